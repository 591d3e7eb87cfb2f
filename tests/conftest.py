"""Shared fixtures: a store of each backend, a running server, a browser per module."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
import redis
from playwright.async_api import Browser

from moderation.store import Store, create_store
from tests.fake_x import TOKEN
from tests.fake_x.server import FakeXServer
from tests.redis_server import RedisServer
from tests.utils import RunningServer, make_settings, run_server


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One redis-server for the session (appendonly on); each test gets its own database."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The URL of an empty Redis database."""
    redis.Redis(port=redis_server.port).flushall()
    return redis_server.url


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of one test alone (appendonly on, fsync always), to kill and restart."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def fake_x() -> AsyncIterator[FakeXServer]:
    """A fake X API v2 server on a free port, accepting `tests.fake_x.TOKEN`."""
    server = FakeXServer(bearer_token=TOKEN, keep_alive_interval=0.05)
    await asyncio.wait_for(server.start(), 5)
    yield server
    await asyncio.wait_for(server.stop(), 5)


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    """A fresh SQLite store file."""
    return f"sqlite:///{tmp_path / 'wall.sqlite3'}"


@pytest.fixture(params=["sqlite", "redis"])
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh store URL of each backend: the contract tests run once per backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'contract.sqlite3'}"
    url: str = request.getfixturevalue("redis_url")
    return url


@pytest.fixture
async def any_store(backend_url: str) -> AsyncIterator[Store]:
    """An open store of each backend."""
    store = create_store(backend_url)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
async def server(store_url: str) -> AsyncIterator[RunningServer]:
    """A real server on a fresh store, with @trusted as a trusted author."""
    settings = make_settings(store_url=store_url, trusted_authors=["trusted"],
                             blocked_words=["casino"])
    async with run_server(settings) as running:
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    """One headless Chromium per test module (tests/browser.py says which and how)."""
    from playwright.async_api import async_playwright

    from tests.browser import launch

    async with async_playwright() as playwright:
        chromium = await launch(playwright)
        yield chromium
        await chromium.close()
