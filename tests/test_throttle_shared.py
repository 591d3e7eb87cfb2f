"""The sign-in throttle on Redis: one count for every web process, a sliding window."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest
import redis.asyncio as aioredis

from moderation.store import create_store
from moderation.stores.redis import RedisStore
from server.throttle import RedisThrottle
from tests.redis_server import RedisServer
from tests.test_auth import from_address, login, served
from tests.utils import PASSWORD, RunningServer


@contextlib.asynccontextmanager
async def two_web_processes(redis_url: str) -> AsyncIterator[tuple[RunningServer, ...]]:
    """Two real app servers on one Redis with one secret key, as two `web` roles."""
    async with served(redis_url) as a, served(redis_url) as b:
        yield a, b


async def attempt(running: RunningServer, address: str, name: str,
                  password: str = "wrong") -> int:
    """The status of one sign-in through `running` from a loopback `address`."""
    async with from_address(running, address) as client:
        return (await login(client, name, password)).status_code


async def test_failures_on_two_web_processes_add_up_per_address(redis_url: str) -> None:
    """3 failures from one address on one process and 2 on the other block it on both."""
    async with two_web_processes(redis_url) as (a, b):
        for n, web in enumerate((a, a, a, b, b)):
            assert await attempt(web, "127.0.0.2", f"name{n}") == 401
        assert await attempt(a, "127.0.0.2", "ben", PASSWORD) == 429
        assert await attempt(b, "127.0.0.2", "ben", PASSWORD) == 429
        assert await attempt(b, "127.0.0.3", "ben", PASSWORD) == 200


async def test_guesses_for_one_name_on_two_processes_never_lock_it_out(redis_url: str) -> None:
    """Wrong passwords for one name from 6 addresses, spread over both processes, do not
    stop its right password from an address that has not failed, on either process."""
    async with two_web_processes(redis_url) as (a, b):
        for n, web in enumerate((a, a, a, b, b, b)):
            assert await attempt(web, f"127.0.0.{10 + n}", "Ana") == 401
        assert await attempt(a, "127.0.0.20", "ana", PASSWORD) == 200
        assert await attempt(b, "127.0.0.21", "ANA", PASSWORD) == 200


async def test_guesses_sent_at_once_to_two_processes_get_five_tries(redis_url: str) -> None:
    """12 wrong sign-ins from one address sent together, half to each process: 5 are
    checked, 7 refused; that address stays refused, another one signs in."""
    async with two_web_processes(redis_url) as (a, b):
        statuses = await asyncio.gather(*(attempt((a, b)[n % 2], "127.0.0.40", "dora")
                                          for n in range(12)))
        assert sorted(statuses) == [401] * 5 + [429] * 7
        assert await attempt(b, "127.0.0.40", "dora", PASSWORD) == 429
        assert await attempt(a, "127.0.0.41", "dora", PASSWORD) == 200


async def test_a_sign_in_on_one_process_clears_the_account_on_the_other(redis_url: str) -> None:
    """A successful sign-in through one process forgets the failures counted through another."""
    async with two_web_processes(redis_url) as (a, b):
        for n in range(4):
            assert await attempt(a, f"127.0.0.{30 + n}", "cleo") == 401
        assert await attempt(b, "127.0.0.34", "cleo", PASSWORD) == 200
        assert await attempt(a, "127.0.0.35", "cleo") == 401
        # Had b's sign-in not cleared a's count, this would be the 5th failure: a 429.
        assert await attempt(a, "127.0.0.36", "cleo", PASSWORD) == 200


@contextlib.asynccontextmanager
async def redis_throttle(redis_url: str, now: list[float]) -> AsyncIterator[RedisThrottle]:
    """A Redis throttle on an open store, whose clock reads `now[0]`."""
    store = create_store(redis_url)
    assert isinstance(store, RedisStore)
    await store.open()
    try:
        yield RedisThrottle(store, limit=5, window=900, clock=lambda: now[0])
    finally:
        await store.close()


async def test_redis_throttle_window_slides_and_forget_clears(redis_url: str) -> None:
    """Failures older than the window stop counting in Redis; forgetting a key clears it."""
    now = [1_700_000_000.0]
    start = now[0]
    async with redis_throttle(redis_url, now) as throttle:
        for _ in range(5):
            await throttle.failed("ip:a", "account:ana")
            now[0] += 10
        assert await throttle.retry_after("ip:b") == 0
        assert await throttle.retry_after("ip:a") == pytest.approx(start + 900 - now[0])
        assert await throttle.retry_after("ip:b", "account:ana") == pytest.approx(850)
        now[0] = start + 900.5
        assert await throttle.retry_after("ip:a") == 0  # the oldest failure left the window
        await throttle.failed("ip:a")  # with the 4 left, 5 again: until the one at +10 leaves
        assert await throttle.retry_after("ip:a") == pytest.approx(10 + 900 - 900.5)
        await throttle.forget("account:ana")
        assert await throttle.retry_after("account:ana") == 0


async def test_redis_throttle_keeps_little_and_expires(redis_url: str) -> None:
    """A key keeps only its newest `limit` failures and expires after the window."""
    now = [1_700_000_000.0]
    async with redis_throttle(redis_url, now) as throttle:
        for _ in range(40):
            await throttle.failed("ip:a")
            now[0] += 1
        client = aioredis.from_url(redis_url)
        try:
            key = throttle.key("ip:a")
            assert key.startswith("hashwall:throttle:")
            assert await client.zcard(key) == 5
            assert 0 < await client.ttl(key) <= 900
        finally:
            await client.aclose()
        # The newest 5 failures, at +35…+39, decide the wait.
        assert await throttle.retry_after("ip:a") == pytest.approx(35 + 900 - 40)


async def test_sign_in_is_refused_while_redis_is_out_of_reach(own_redis: RedisServer) -> None:
    """With Redis down a sign-in answers 503 and signs nobody in, rather than skip the count."""
    async with served(own_redis.url) as running:
        own_redis.stop()
        async with httpx.AsyncClient(base_url=running.base, timeout=30) as client:
            refused = await login(client, "ana", PASSWORD)
        assert refused.status_code == 503
        assert "unreachable" in refused.json()["error"]
        assert refused.headers["retry-after"] == "1"
        assert "hashwall_session" not in refused.cookies
