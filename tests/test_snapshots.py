"""Screens that connect between two events share one snapshot, never an outdated one."""

from __future__ import annotations

import asyncio
import contextlib

from moderation.post import Status
from moderation.queue import Verdict
from moderation.store import Store
from server.snapshots import PublicSnapshots
from tests.utils import RunningServer, make_post, recv, ws_client


async def test_screens_connecting_together_share_one_build(server: RunningServer) -> None:
    """30 screens at once cost one snapshot; the next event makes the next screen a new one,
    which has the new post."""
    wall = server.wall
    for n in (1, 2, 3):
        await wall.pipeline.ingest(make_post(n, handle="trusted"))
    builds = wall.snapshots.builds
    async with contextlib.AsyncExitStack() as stack:
        screens = [await stack.enter_async_context(ws_client(f"{server.ws_base}/ws"))
                   for _ in range(30)]
        snapshots = await asyncio.gather(*(recv(ws) for ws in screens))
    assert all(s == snapshots[0] for s in snapshots)
    assert [p["id"] for p in snapshots[0]["posts"]] == ["x:3", "x:2", "x:1"]
    assert wall.snapshots.builds == builds + 1
    await wall.pipeline.ingest(make_post(4, handle="trusted"))
    async with ws_client(f"{server.ws_base}/ws") as late:
        snapshot = await recv(late)
    assert [p["id"] for p in snapshot["posts"]] == ["x:4", "x:3", "x:2", "x:1"]
    assert snapshot["seq"] > snapshots[0]["seq"] and wall.snapshots.builds == builds + 2


async def test_a_reset_is_said_to_one_screen_only(server: RunningServer) -> None:
    """A screen resuming from a position the log does not have is told to start over; the
    shared snapshot the next screen gets does not say so."""
    await server.wall.pipeline.ingest(make_post(1, handle="trusted"))
    async with ws_client(f"{server.ws_base}/ws?since=999") as lost:
        told = await recv(lost)
    async with ws_client(f"{server.ws_base}/ws") as fresh:
        plain = await recv(fresh)
    assert told["reset"] is True and plain["reset"] is False
    assert {**told, "reset": False} == plain


async def test_a_snapshot_is_never_older_than_the_store(any_store: Store) -> None:
    """Built before an approval, the kept snapshot is not given out after it."""
    snapshots = PublicSnapshots(any_store, 10)
    first = await snapshots.get()
    assert (first.seq, first.message["posts"]) == (0, [])
    assert await snapshots.get() is first and snapshots.builds == 1
    await any_store.submit(make_post(1), Verdict(Status.APPROVED, "trusted_author"))
    second = await snapshots.get()
    assert second.seq == 1 and [p["id"] for p in second.message["posts"]] == ["x:1"]
    assert snapshots.builds == 2
