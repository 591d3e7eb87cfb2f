"""The walking skeleton end to end: queue, decisions and /ws over a real server."""

from __future__ import annotations

from moderation.post import Status
from tests.utils import (
    RunningServer,
    make_post,
    moderator,
    recv,
    recv_until,
    ws_client,
)


async def test_pending_post_reaches_ws_only_after_approval(server: RunningServer) -> None:
    """A pending post never reaches /ws; once approved every client gets it exactly once."""
    wall = server.wall
    async with ws_client(f"{server.ws_base}/ws") as one, ws_client(f"{server.ws_base}/ws") as two:
        for ws in (one, two):
            first = await recv(ws)
            assert first["type"] == "snapshot" and first["posts"] == []
        await wall.pipeline.ingest(make_post(1))
        await wall.pipeline.ingest(make_post(2, handle="trusted"))
        for ws in (one, two):
            message = await recv(ws)
            # The trusted post came after the pending one: had the pending one leaked, it
            # would be first.
            assert message["type"] == "post.shown" and message["post"]["id"] == "x:2"
        async with moderator(server) as http:
            response = await http.post("/api/posts/x:1/approve")
            assert response.status_code == 200, response.text
            assert response.json() == {"id": "x:1", "action": "approve", "status": "approved"}
            await wall.pipeline.ingest(make_post(3, handle="trusted"))
            response = await http.post("/api/posts/x:1/hide")
            assert response.json()["status"] == "hidden"
        for ws in (one, two):
            shown = await recv(ws)
            sentinel = await recv(ws)
            retracted = await recv(ws)
            assert shown["type"] == "post.shown" and shown["post"]["id"] == "x:1"
            assert sentinel["post"]["id"] == "x:3"
            assert retracted == {"type": "post.retracted", "seq": retracted["seq"], "id": "x:1"}
            assert message["seq"] < shown["seq"] < sentinel["seq"] < retracted["seq"]


async def test_new_client_starts_from_a_snapshot_of_approved_posts(server: RunningServer) -> None:
    """A client that connects later starts from the approved posts, newest first."""
    for n in range(1, 4):
        await server.wall.pipeline.ingest(make_post(n, handle="trusted"))
    await server.wall.pipeline.ingest(make_post(4))
    async with ws_client(f"{server.ws_base}/ws") as ws:
        snapshot = await recv(ws)
    assert snapshot["type"] == "snapshot"
    assert [p["id"] for p in snapshot["posts"]] == ["x:3", "x:2", "x:1"]
    assert snapshot["seq"] == 3


async def test_reconnect_with_since_gets_exactly_what_was_missed(server: RunningServer) -> None:
    """A client that resumes with ?since= gets every missed event once, in order."""
    wall = server.wall
    async with ws_client(f"{server.ws_base}/ws") as ws:
        await recv(ws)
        await wall.pipeline.ingest(make_post(1, handle="trusted"))
        seen = await recv(ws)
    last = seen["seq"]
    async with moderator(server) as http:
        await wall.pipeline.ingest(make_post(2, handle="trusted"))
        await wall.pipeline.ingest(make_post(3))
        assert (await http.post("/api/posts/x:3/approve")).status_code == 200
        assert (await http.post("/api/posts/x:1/hide")).status_code == 200
    async with ws_client(f"{server.ws_base}/ws?since={last}") as ws:
        missed = [await recv(ws) for _ in range(3)]
        await wall.pipeline.ingest(make_post(4, handle="trusted"))
        live = await recv(ws)
    assert [(m["type"], m.get("id") or m["post"]["id"]) for m in missed] == [
        ("post.shown", "x:2"), ("post.shown", "x:3"), ("post.retracted", "x:1"),
    ]
    assert [m["seq"] for m in missed] == [last + 1, last + 2, last + 3]
    assert live["post"]["id"] == "x:4" and live["seq"] == last + 4


async def test_since_beyond_the_log_starts_again_from_a_snapshot(server: RunningServer) -> None:
    """A client whose ?since= the server never issued gets a snapshot marked reset."""
    await server.wall.pipeline.ingest(make_post(1, handle="trusted"))
    async with ws_client(f"{server.ws_base}/ws?since=999") as ws:
        snapshot = await recv(ws)
    assert snapshot["type"] == "snapshot" and snapshot["reset"] is True
    assert [p["id"] for p in snapshot["posts"]] == ["x:1"]


async def test_moderator_socket_sees_the_queue_and_decides(server: RunningServer) -> None:
    """/ws/moderate lists pending posts, streams new ones, and applies decisions."""
    wall = server.wall
    await wall.pipeline.ingest(make_post(1))
    async with moderator(server) as http:
        cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
        async with ws_client(f"{server.ws_base}/ws/moderate",
                             additional_headers={"Cookie": cookie}) as ws:
            snapshot = await recv(ws)
            assert snapshot["type"] == "queue.snapshot"
            assert [i["post"]["id"] for i in snapshot["pending"]] == ["x:1"]
            await wall.pipeline.ingest(make_post(2, text="gagnez au casino"))
            added = await recv(ws)
            assert added["type"] == "queue.added"
            assert added["item"]["status"] == "rejected" and added["item"]["rule"] == "blocked_word"
            await ws.send('{"type": "decide", "id": "x:1", "action": "approve", "ref": 7}')
            replies = await recv_until(ws, "ack")
            assert replies[-1] == {"type": "ack", "ref": 7, "id": "x:1", "action": "approve",
                                   "status": "approved"}
    item = await wall.store.get("x:1")
    assert item is not None and item.status is Status.APPROVED and item.decided_by == "ana"
