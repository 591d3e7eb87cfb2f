"""Several moderators at once over real websockets: one outcome, live colleagues, batches."""

from __future__ import annotations

import asyncio

from moderation.post import Status
from moderation.queue import MODERATION
from server.claim_sweeper import ClaimSweeper
from tests.moderation_helpers import console, of_type, reply_to, send, wait_for
from tests.utils import RunningServer, make_post, recv, ws_client


async def test_two_moderators_deciding_at_once_get_one_outcome(server: RunningServer) -> None:
    """Approve and reject of one post sent at the same moment: one applies, the other is told."""
    wall = server.wall
    for n in range(1, 6):
        await wall.pipeline.ingest(make_post(n))
    async with console(server, "ana") as (ana, _), console(server, "ben") as (ben, _):
        for n in range(1, 6):
            await asyncio.gather(
                send(ana, type="decide", id=f"x:{n}", action="approve", expected="pending",
                     ref=f"a{n}"),
                send(ben, type="decide", id=f"x:{n}", action="reject", expected="pending",
                     ref=f"b{n}"),
            )
        outcomes = {}
        for n in range(1, 6):
            a, _ = await wait_for(ana, reply_to(f"a{n}"))
            b, _ = await wait_for(ben, reply_to(f"b{n}"))
            assert sorted((a["type"], b["type"])) == ["ack", "error"], (a, b)
            loser = a if a["type"] == "error" else b
            assert loser["code"] == "conflict" and "another decision" in loser["message"]
            winner = b if loser is a else a
            outcomes[f"x:{n}"] = winner["status"]
        for n, status in outcomes.items():
            item = await wall.store.get(n)
            assert item is not None and item.status.value == status
    decided = [e for e in await wall.store.events_after(MODERATION, 0) if e.type == "queue.decided"]
    assert sorted(e.data["id"] for e in decided) == [f"x:{n}" for n in range(1, 6)]


async def test_everyone_sees_the_queue_and_every_decision_live(server: RunningServer) -> None:
    """A colleague's decision and a new post reach every console, with who decided."""
    wall = server.wall
    async with console(server, "ana") as (ana, _), console(server, "ben") as (ben, _):
        await wall.pipeline.ingest(make_post(1, text="Bonjour la plénière"))
        for ws in (ana, ben):
            added, _ = await wait_for(ws, of_type("queue.added"))
            assert added["item"]["post"]["id"] == "x:1"
        await send(ben, type="decide", id="x:1", action="approve", ref="b1")
        for ws in (ana, ben):
            decided, _ = await wait_for(ws, of_type("queue.decided", id="x:1"))
            assert (decided["status"], decided["moderator"]) == ("approved", "ben")
        await send(ana, type="decide", id="x:1", action="reject", expected="pending", ref="a1")
        refused, _ = await wait_for(ana, reply_to("a1"))
        assert refused["code"] == "conflict"


async def test_batches_do_not_overlap_and_return_when_their_moderator_leaves(
    server: RunningServer,
) -> None:
    """Two moderators take disjoint batches; closing a console puts its batch back."""
    wall = server.wall
    for n in range(1, 6):
        await wall.pipeline.ingest(make_post(n))
    async with console(server, "ben") as (ben, _):
        async with console(server, "ana") as (ana, _):
            await send(ana, type="claim", size=2, ref="c1")
            mine, _ = await wait_for(ana, reply_to("c1"))
            seen, _ = await wait_for(ben, of_type("queue.claimed", moderator="ana"))
            assert seen["ids"] == ["x:1", "x:2"] and seen["until"] > 0
            await send(ben, type="claim", size=2, ref="c2")
            his, _ = await wait_for(ben, reply_to("c2"))
            assert mine["ids"] == ["x:1", "x:2"] and his["ids"] == ["x:3", "x:4"]
        released, _ = await wait_for(ben, of_type("queue.released", moderator="ana"))
        assert released["ids"] == ["x:1", "x:2"]
        await send(ben, type="claim", size=4, ref="c3")
        grown, _ = await wait_for(ben, reply_to("c3"))
        assert grown["ids"] == ["x:1", "x:2", "x:3", "x:4"]
    item = await wall.store.get("x:3")
    assert item is not None and item.claimed_by is None  # ben left too


async def test_a_batch_returns_to_the_pool_after_its_timeout(server: RunningServer) -> None:
    """The sweeper releases a claim whose time ran out, and consoles are told."""
    wall = server.wall
    await wall.pipeline.ingest(make_post(1))
    async with console(server, "ana") as (ana, _):
        # A claim taken an hour ago with a 10 s timeout has run out.
        await wall.store.claim("zoe", 5, ttl=10, now=1.0)
        sweeper = ClaimSweeper(wall.store, interval=0.05)
        await sweeper.start()
        try:
            released, _ = await wait_for(ana, of_type("queue.released", moderator="zoe"))
        finally:
            await sweeper.stop()
    assert released["ids"] == ["x:1"]


async def test_a_decision_resent_after_reconnect_is_applied_once(server: RunningServer) -> None:
    """A decision whose ack was lost is re-sent on a new socket and answered as a repeat."""
    wall = server.wall
    await wall.pipeline.ingest(make_post(1))
    async with console(server, "ana") as (ana, _):
        await send(ana, type="decide", id="x:1", action="approve", expected="pending",
                   ref="9f2c-approve-x1")
        # The socket drops before the ack is read.
    async with console(server, "ana") as (ana, snapshot):
        applied = "x:1" not in [i["post"]["id"] for i in snapshot["pending"]]
        await send(ana, type="decide", id="x:1", action="approve", expected="pending",
                   ref="9f2c-approve-x1")
        ack, _ = await wait_for(ana, reply_to("9f2c-approve-x1"))
        assert ack["type"] == "ack" and ack["status"] == "approved"
        assert ack.get("repeat", False) is applied
    item = await wall.store.get("x:1")
    assert item is not None and item.status is Status.APPROVED
    decided = [e for e in await wall.store.events_after(MODERATION, 0) if e.type == "queue.decided"]
    assert len(decided) == 1
    async with ws_client(f"{server.ws_base}/ws") as screen:
        assert [p["id"] for p in (await recv(screen))["posts"]] == ["x:1"]
