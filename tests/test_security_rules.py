"""Sensitive posts wait for a moderator even from trusted authors, over a real server."""

from __future__ import annotations

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
