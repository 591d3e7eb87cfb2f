"""Slow clients, restarts and bad input: the wall keeps running and loses nothing."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
from pathlib import Path

from moderation.post import Status
from tests.utils import (
    PASSWORD,
    make_post,
    make_settings,
    moderator,
    recv,
    recv_until,
    run_server,
    session_cookie,
    start_server,
    stop_server,
    until,
    ws_client,
)


async def _stalled_socket(port: int) -> socket.socket:
    """A websocket that completes its handshake and then never reads again."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await asyncio.wait_for(loop.sock_connect(sock, ("127.0.0.1", port)), 10)
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    await asyncio.wait_for(loop.sock_sendall(sock, request.encode()), 10)
    answer = await asyncio.wait_for(loop.sock_recv(sock, 1024), 10)
    assert answer.startswith(b"HTTP/1.1 101"), answer
    return sock


async def test_client_that_never_reads_is_dropped_while_others_get_everything(
    store_url: str,
) -> None:
    """A stalled socket is disconnected; a healthy client receives every event in order."""
    settings = make_settings(store_url=store_url, trusted_authors=["trusted"],
                             client_queue_size=32)
    async with run_server(settings) as server:
        wall = server.wall
        stalled = await _stalled_socket(server.port)
        try:
            async with ws_client(f"{server.ws_base}/ws", max_size=None) as healthy:
                await recv(healthy)
                await until(lambda: len(wall.public.clients) == 2)
                big = "x" * 20_000
                received: list[int] = []
                # Lock-step: the healthy client reads each post before the next is approved,
                # so only the stalled socket can fall behind.
                for n in range(1, 301):
                    await wall.pipeline.ingest(make_post(n, text=big, handle="trusted"))
                    received.append((await recv(healthy))["seq"])
                assert received == list(range(1, 301))
                await until(lambda: wall.public.dropped_total == 1)
                assert len(wall.public.clients) == 1
        finally:
            stalled.close()


async def test_restart_keeps_queue_posts_and_sequence(store_url: str) -> None:
    """After a restart on the same SQLite file, approved and pending posts remain and seq grows."""
    settings = make_settings(store_url=store_url, trusted_authors=["trusted"])
    first = await start_server(settings)
    try:
        await first.wall.pipeline.ingest(make_post(1, handle="trusted"))
        await first.wall.pipeline.ingest(make_post(2))
        await first.wall.pipeline.ingest(make_post(3))
        async with moderator(first) as http:
            assert (await http.post("/api/posts/x:3/approve")).status_code == 200
        seq_before = await first.wall.store.last_seq("public")
    finally:
        await stop_server(first)
    assert seq_before == 2
    second = await start_server(settings)
    try:
        async with moderator(second) as http:
            approved = (await http.get("/api/posts?status=approved")).json()
            pending = (await http.get("/api/posts?status=pending")).json()
            assert [p["id"] for p in approved["posts"]] == ["x:3", "x:1"]
            assert approved["seq"] == seq_before
            assert [i["post"]["id"] for i in pending["items"]] == ["x:2"]
            async with ws_client(f"{second.ws_base}/ws?since={seq_before}") as ws:
                assert (await http.post("/api/posts/x:2/approve")).status_code == 200
                event = await recv(ws)
        assert event["type"] == "post.shown" and event["post"]["id"] == "x:2"
        assert event["seq"] == seq_before + 1
    finally:
        await stop_server(second)


async def test_broken_replay_lines_are_reported_and_the_rest_is_queued(
    store_url: str, tmp_path: Path
) -> None:
    """A replay file with broken lines queues every good line and reports each bad one."""
    from tests.fake_x import recorded_stream_items

    items = recorded_stream_items()[:2]
    replay = tmp_path / "replay.jsonl"
    replay.write_text(
        "\n".join([json.dumps(items[0]), '{"data": {"id": "1", "te', "[1, 2]",
                   json.dumps(items[1])]) + "\n",
        encoding="utf-8",
    )
    settings = make_settings(store_url=store_url, replay_file=replay, replay_speed=0)
    async with run_server(settings) as server:
        source = server.wall.sources[0]
        await asyncio.wait_for(source.done.wait(), 10)  # type: ignore[attr-defined]
        assert await server.wall.store.count(Status.PENDING) == 2
        async with moderator(server) as http:
            health = (await http.get("/healthz")).json()
    replay_health = health["sources"]["replay"]
    assert health["ok"] is True
    assert replay_health["posts"] == 2 and replay_health["errors"] == 2
    assert "line 3" in replay_health["last_error"]


async def test_bad_http_input_gets_clear_errors(server) -> None:  # type: ignore[no-untyped-def]
    """Unknown actions, unknown ids, wrong passwords and anonymous decisions are refused."""
    await server.wall.pipeline.ingest(make_post(1))
    async with moderator(server) as http:
        unknown_action = await http.post("/api/posts/x:1/promote")
        assert unknown_action.status_code == 400
        assert "approve, reject, hide" in unknown_action.json()["error"]
        unknown_id = await http.post("/api/posts/x:999/approve")
        assert unknown_id.status_code == 404 and "x:999" in unknown_id.json()["error"]
        bad_body = await http.post("/api/posts/x:1/approve", content=b"{nope",
                                   headers={"content-type": "application/json"})
        assert bad_body.status_code == 400
        bad_status = await http.get("/api/posts?status=lost")
        assert bad_status.status_code == 400 and "pending" in bad_status.json()["error"]
        await http.post("/api/logout")
        anonymous = await http.post("/api/posts/x:1/approve")
        assert anonymous.status_code == 401
        private = await http.get("/api/posts?status=pending")
        assert private.status_code == 401
        wrong = await http.post("/api/login", json={"name": "eve", "password": PASSWORD + "!"})
        assert wrong.status_code == 401 and wrong.json()["error"] == "wrong password"
    item = await server.wall.store.get("x:1")
    assert item is not None and item.status is Status.PENDING


async def test_bad_moderator_messages_get_errors_and_the_socket_keeps_working(
    server,  # type: ignore[no-untyped-def]
) -> None:
    """Malformed or unknown messages on /ws/moderate get an error; a valid one still works."""
    await server.wall.pipeline.ingest(make_post(1))
    async with moderator(server) as http:
        headers = {"Cookie": session_cookie(http)}
        async with ws_client(f"{server.ws_base}/ws/moderate", additional_headers=headers) as ws:
            await recv(ws)
            await ws.send("not json")
            assert (await recv(ws))["message"] == "expected a JSON message"
            await ws.send(json.dumps({"type": "shout", "ref": 1}))
            assert "'shout'" in (await recv(ws))["message"]
            await ws.send(json.dumps({"type": "decide", "id": "x:1", "action": "nuke", "ref": 2}))
            error = await recv(ws)
            assert error["ref"] == 2 and error["code"] == "invalid_action"
            await ws.send(json.dumps({"type": "decide", "id": "x:9", "action": "approve",
                                      "ref": 3}))
            assert (await recv(ws))["code"] == "unknown_post"
            await ws.send(json.dumps({"type": "decide", "id": "x:1", "action": "approve",
                                      "ref": 4}))
            assert (await recv_until(ws, "ack"))[-1]["ref"] == 4


async def test_moderator_socket_refuses_anonymous_clients(server) -> None:  # type: ignore[no-untyped-def]
    """Without a moderator session /ws/moderate says why and closes with 4401."""
    async with ws_client(f"{server.ws_base}/ws/moderate") as ws:
        refusal = await recv(ws)
        assert refusal["code"] == "unauthorised"
        await asyncio.wait_for(ws.wait_closed(), 10)
        assert ws.close_code == 4401


async def test_bad_since_gets_an_error_then_a_snapshot(server) -> None:  # type: ignore[no-untyped-def]
    """A since that is not a number is reported, and the client starts from a snapshot."""
    async with ws_client(f"{server.ws_base}/ws?since=abc") as ws:
        error = await recv(ws)
        snapshot = await recv(ws)
    assert error["code"] == "bad_since"
    assert snapshot["type"] == "snapshot"
