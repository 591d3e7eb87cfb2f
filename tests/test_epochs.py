"""A screen that resumes after the store was replaced (a new SQLite file, a flushed Redis)
starts again from the new store's snapshot, never from its own numbers."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis.asyncio as aioredis
from websockets.exceptions import ConnectionClosed

from moderation.store import create_store
from tests.utils import make_post, make_settings, moderator, recv, run_server, ws_client

OLD = "only the old store approved this"


def replaced_url(backend_url: str, tmp_path: Path) -> str:
    """The URL of the store that replaces the first one: a new file, or the same Redis."""
    if backend_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'replacement.sqlite3'}"
    return backend_url


async def replace(backend_url: str) -> None:
    """Empty the first store the way an operator would: FLUSHALL, or nothing (a new file)."""
    if backend_url.startswith("redis"):
        client = aioredis.from_url(backend_url)
        try:
            await client.flushall()
        finally:
            await client.aclose()


async def test_an_epoch_is_made_with_the_store_and_kept(backend_url: str) -> None:
    """Reopening a store keeps its epoch; the epoch is a random id, not a number."""
    store = create_store(backend_url)
    await store.open()
    first = await store.epoch()
    await store.close()
    store = create_store(backend_url)
    await store.open()
    try:
        assert await store.epoch() == first
        assert len(first) >= 16 and not first.isdigit()
    finally:
        await store.close()


async def test_resuming_after_the_store_was_replaced_gets_a_fresh_snapshot(
    backend_url: str, tmp_path: Path,
) -> None:
    """since=N of the old epoch, with N inside the new log: a reset snapshot of the new
    store's approved posts; the old post and the new pending one never arrive."""
    settings = make_settings(store_url=backend_url, trusted_authors=["trusted"])
    async with run_server(settings) as server:
        async with ws_client(f"{server.ws_base}/ws") as ws:
            snapshot = await recv(ws)
            old_epoch = snapshot["epoch"]
            assert isinstance(old_epoch, str) and old_epoch
            await server.wall.pipeline.ingest(make_post(1, text=OLD, handle="trusted"))
            shown = await recv(ws)
        since = shown["seq"]
    await replace(backend_url)
    settings = make_settings(store_url=replaced_url(backend_url, tmp_path),
                             trusted_authors=["trusted"])
    async with run_server(settings) as server:
        wall = server.wall
        await wall.pipeline.ingest(make_post(7, text="new and approved", handle="trusted"))
        await wall.pipeline.ingest(make_post(8, text="new and pending"))
        async with moderator(server) as http:
            assert (await http.post("/api/posts/x:7/hide")).status_code == 200
            assert (await http.post("/api/posts/x:7/approve")).status_code == 200
        assert await wall.store.last_seq("public") > since  # the old since is inside the log
        async with ws_client(f"{server.ws_base}/ws?since={since}&epoch={old_epoch}") as ws:
            fresh = await recv(ws)
            await wall.pipeline.ingest(make_post(9, text="live", handle="trusted"))
            live = await recv(ws)
        # The same since in the new epoch resumes as usual.
        new_epoch = fresh["epoch"]
        async with ws_client(f"{server.ws_base}/ws?since={since}&epoch={new_epoch}") as ws:
            resumed = await recv(ws)
    assert fresh["type"] == "snapshot" and fresh["reset"] is True
    assert new_epoch != old_epoch
    assert [p["id"] for p in fresh["posts"]] == ["x:7"]
    assert OLD not in str(fresh) and "new and pending" not in str(fresh)
    assert live["type"] == "post.shown" and live["post"]["id"] == "x:9"
    assert live["seq"] == fresh["seq"] + 1
    assert resumed["type"] != "snapshot" and resumed["seq"] == since + 1


async def test_a_resume_without_an_epoch_still_works(backend_url: str) -> None:
    """Pages that do not send an epoch yet resume by since alone, as before."""
    settings = make_settings(store_url=backend_url, trusted_authors=["trusted"])
    async with run_server(settings) as server:
        await server.wall.pipeline.ingest(make_post(1, handle="trusted"))
        await server.wall.pipeline.ingest(make_post(2, handle="trusted"))
        async with ws_client(f"{server.ws_base}/ws?since=1") as ws:
            message = await recv(ws)
    assert message["type"] == "post.shown" and message["post"]["id"] == "x:2"


async def test_screens_start_again_when_redis_is_flushed_under_a_running_server(
    redis_url: str,
) -> None:
    """FLUSHALL while a screen is connected: the screen is closed with 1012, and resuming
    with its since and epoch gives a reset snapshot holding only the new store's posts."""
    settings = make_settings(store_url=redis_url, trusted_authors=["trusted"])
    async with run_server(settings) as server:
        wall = server.wall
        async with ws_client(f"{server.ws_base}/ws") as ws:
            snapshot = await recv(ws)
            for n in (1, 2, 3):
                await wall.pipeline.ingest(make_post(n, text=f"{OLD} {n}", handle="trusted"))
            since = [await recv(ws) for _ in range(3)][-1]["seq"]
            await replace(redis_url)
            await wall.pipeline.ingest(make_post(7, text="after the flush", handle="trusted"))
            with pytest.raises(ConnectionClosed) as closed:
                # The old log's numbers are past the new one's: nothing of it may arrive.
                message = await recv(ws, timeout=30)
                raise AssertionError(f"expected the socket to close, got {message}")
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012
        url = f"{server.ws_base}/ws?since={since}&epoch={snapshot['epoch']}"
        async with ws_client(url) as ws:
            fresh = await recv(ws)
    assert fresh["type"] == "snapshot" and fresh["reset"] is True
    assert fresh["epoch"] != snapshot["epoch"]
    assert [p["id"] for p in fresh["posts"]] == ["x:7"]
