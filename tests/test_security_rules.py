"""Sensitive posts wait for a moderator even from trusted authors, over a real server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.utils import make_post, make_settings, moderator, recv, run_server, ws_client


@pytest.mark.parametrize("mode", ["pre", "post"])
async def test_trusted_authors_sensitive_post_waits_in_both_modes(store_url: str,
                                                                  mode: str) -> None:
    """A trusted author's post marked sensitive stays off the wall and waits in the queue."""
    settings = make_settings(store_url=store_url, trusted_authors=["trusted"],
                             moderation_mode=mode)
    async with run_server(settings) as running, ws_client(f"{running.ws_base}/ws") as ws:
        assert (await recv(ws))["type"] == "snapshot"
        pipeline = running.wall.pipeline
        await pipeline.ingest(make_post(1, handle="trusted", possibly_sensitive=True))
        await pipeline.ingest(make_post(2, handle="trusted"))
        shown = await recv(ws)
        # Had the sensitive post been shown, it would have come first.
        assert shown["type"] == "post.shown" and shown["post"]["id"] == "x:2"
        async with moderator(running) as http:
            queue = (await http.get("/api/posts", params={"status": "pending"})).json()
        assert [i["post"]["id"] for i in queue["items"]] == ["x:1"], queue


async def test_flood_context_keeps_no_text_while_flood_detection_is_off(store_url: str) -> None:
    """2,500 long posts through a running server with the flood rule off leave no text in
    the rules' memory."""
    async with run_server(make_settings(store_url=store_url)) as running:
        pipeline = running.wall.pipeline
        for n in range(2500):
            await pipeline.offer(make_post(n, text=f"{n} " + "mot " * 60, handle=f"u{n % 50}"))
        async with moderator(running) as http:
            await until_pending(http, 2500)
        assert pipeline.context.texts == {} and pipeline.context.text_bytes == 0


async def until_pending(http: Any, count: int) -> None:
    """Wait until `count` posts wait in the queue."""
    async with asyncio.timeout(60):
        while True:
            items = (await http.get("/api/posts", params={"status": "pending",
                                                          "limit": 500})).json()["items"]
            if len(items) >= min(count, 500):
                return
            await asyncio.sleep(0.1)
