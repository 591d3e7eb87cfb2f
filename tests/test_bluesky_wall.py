"""The Bluesky source inside a running wall: chosen by its settings, shown and retracted on
the screens, reported on /healthz and /metrics."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from moderation.post import Status
from tests.fake_bluesky import written
from tests.fake_bluesky.appview import running_appview
from tests.fake_bluesky.jetstream import running_jetstream
from tests.utils import TIMEOUT, make_settings, recv_until, run_server, ws_client

A_POST = "bluesky:at://did:plc:writtenauthorbbbbbbbbbbb/app.bsky.feed.post/3mwrit00002"


async def test_a_deleted_post_leaves_the_screens_and_health_is_reported(tmp_path: Path) -> None:
    """A trusted author's tagged post is shown, its deletion takes it off the wall (handed on
    as the delete arrives), and /healthz and /metrics report the Jetstream host."""
    lines = written()
    create, delete = lines[:2], lines[15]  # 3mwrit00002 by written-b, and its delete
    assert b'"delete"' in delete and b"3mwrit00002" in delete
    async with running_jetstream() as jetstream, running_appview() as appview:
        url = jetstream.url
        settings = make_settings(
            store_url=f"sqlite:///{tmp_path / 'wall.sqlite3'}",
            trusted_authors=["written-b.bsky.social"],
            bluesky_jetstream_url=jetstream.url, bluesky_appview_url=appview.url,
            bluesky_plc_url=appview.url, hashtags=["#uemedef14", "#Paroles2CEO"])
        async with run_server(settings) as running:
            assert [s.name for s in running.wall.sources] == ["bluesky"]
            await asyncio.wait_for(jetstream.wait_connects(1), TIMEOUT)
            async with ws_client(f"{running.ws_base}/ws") as screen:
                await recv_until(screen, "snapshot")
                jetstream.publish(create)
                shown = await recv_until(screen, "post.shown")
                post = shown[-1]["data"]["post"] if "data" in shown[-1] else shown[-1]["post"]
                assert post["id"] == A_POST
                assert post["author"]["handle"] == "written-b.bsky.social"
                jetstream.publish([delete])
                retracted = await recv_until(screen, "post.retracted")
                assert A_POST in str(retracted[-1])
            item = await running.wall.store.get(A_POST)
            assert item is not None and item.status is Status.HIDDEN
            async with httpx.AsyncClient(base_url=running.base, timeout=TIMEOUT) as http:
                health = (await http.get("/healthz")).json()["sources"]["bluesky"]
                metrics = (await http.get("/metrics")).text
    host = health["hosts"][url]
    assert host["connected"] and host["events_seen"] == 3 and host["events_matched"] == 2
    assert host["lag_seconds"] is not None and host["reconnects"] == 0
    assert health["profiles"]["cache_misses"] >= 1
    assert 'hashwall_source_bluesky_events_seen{source="bluesky"} 3.0' in metrics
    assert "hashwall_source_bluesky_lag_seconds" in metrics
    assert "hashwall_source_bluesky_profile_cache_misses" in metrics
