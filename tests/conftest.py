"""Shared fixtures: a store file per test and a running server on it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.utils import RunningServer, make_settings, run_server


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    """A fresh SQLite store file."""
    return f"sqlite:///{tmp_path / 'wall.sqlite3'}"


@pytest.fixture
async def server(store_url: str) -> AsyncIterator[RunningServer]:
    """A real server on a fresh store, with @trusted as a trusted author."""
    settings = make_settings(store_url=store_url, trusted_authors=["trusted"],
                             blocked_words=["casino"])
    async with run_server(settings) as running:
        yield running
