"""A post moderators took down never comes back through a replay of the public log, the
public API or the export, on either store."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest_asyncio

from tests.utils import (
    RunningServer,
    make_post,
    make_settings,
    moderator,
    recv,
    run_server,
    ws_client,
)

SECRET = "hidden words 7f3a"
KEPT = "kept words 91bc"


@pytest_asyncio.fixture
async def running(backend_url: str) -> AsyncIterator[RunningServer]:
    """A real server on a fresh store of each backend, with @trusted trusted."""
    settings = make_settings(store_url=backend_url, trusted_authors=["trusted"])
    async with run_server(settings) as server:
        yield server


async def replay_all(server: RunningServer, since: int) -> list[str]:
    """Every frame /ws?since= sends up to the newest event, as received."""
    last = await server.wall.store.last_seq("public")
    frames: list[str] = []
    async with ws_client(f"{server.ws_base}/ws?since={since}") as ws:
        seq = since
        while seq < last:
            text = await asyncio.wait_for(ws.recv(), 10)
            assert isinstance(text, str)
            frames.append(text)
            seq = json.loads(text).get("seq", seq)
    return frames


async def test_a_hidden_post_is_replayed_as_a_retraction_only(running: RunningServer) -> None:
    """Approve, pin, hide: /ws?since=0 brings the retraction at the post's old places and
    the other post, never the hidden text; nor do /api/posts and the export."""
    wall = running.wall
    await wall.pipeline.ingest(make_post(1, text=SECRET))
    await wall.pipeline.ingest(make_post(2, text=KEPT, handle="trusted"))
    async with moderator(running) as http:
        assert (await http.post("/api/posts/x:1/approve")).status_code == 200
        response = await http.post("/api/posts/x:1/pin")
        assert response.status_code == 200, response.text
        assert (await http.post("/api/posts/x:1/hide")).status_code == 200
        for since in range(0, await wall.store.last_seq("public")):
            frames = await replay_all(running, since)
            assert not any(SECRET in frame for frame in frames), (since, frames)
        frames = await replay_all(running, 0)
        messages = [json.loads(f) for f in frames]
        assert [m["seq"] for m in messages] == list(range(1, len(messages) + 1))
        assert {"type": "post.retracted", "seq": messages[1]["seq"], "id": "x:1"} in messages
        assert any(m.get("post", {}).get("text") == KEPT for m in messages)
        public = await http.get("/api/posts")
        export = await http.get("/api/export.json")
        posts_csv = await http.get("/api/export/posts.csv")
    for response in (public, export, posts_csv):
        assert response.status_code == 200
        assert SECRET not in response.text
    assert KEPT in public.text and KEPT in posts_csv.text


async def test_a_live_screen_sees_the_post_then_its_retraction(running: RunningServer) -> None:
    """A screen connected while the post was approved got it; after the hide a screen that
    resumes from before the approval gets only ids."""
    wall = running.wall
    async with ws_client(f"{running.ws_base}/ws") as ws:
        snapshot = await recv(ws)
        await wall.pipeline.ingest(make_post(1, text=SECRET, handle="trusted"))
        shown = await recv(ws)
    assert shown["post"]["text"] == SECRET
    async with moderator(running) as http:
        assert (await http.post("/api/posts/x:1/hide")).status_code == 200
    frames = await replay_all(running, snapshot["seq"])
    assert [json.loads(f)["type"] for f in frames] == ["post.retracted", "post.retracted"]
    assert not any(SECRET in f for f in frames)
