"""The X source on a quiet stream (the stall timeout) and against its monthly read budget."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from moderation.post import Post
from moderation.store import create_store
from server.sources.x.budget import ReadCounter, Reading, counter_name
from server.sources.x.source import KEEP_ALIVE_INTERVAL, STALL_TIMEOUT, XSource
from tests.fake_x import TOKEN, make_item
from tests.fake_x.server import FakeXServer
from tests.utils import (
    TIMEOUT,
    make_settings,
    moderator,
    recv,
    recv_until,
    run_server,
    session_cookie,
    until,
    ws_client,
)

HASHTAGS = ["#uemedef14"]
SCALE = 0.0001
# Fake time: every interval of the stream and of the source shrunk by the same factor, so
# two minutes of the real X schedule pass in 1.2 s.
FAKE = 0.01


class Posts:
    """A sink that keeps what it is offered."""

    def __init__(self) -> None:
        self.posts: list[Post] = []

    async def offer(self, post: Post) -> None:
        self.posts.append(post)

    async def retract(self, post_id: str, reason: str) -> None:
        raise AssertionError(post_id)


def item(number: int) -> dict[str, Any]:
    """A post that matches the wall's rule, with a distinct id."""
    return make_item("Bonjour #uemedef14", post_id=str(1_600_000_000_000_000_000 + number))


async def test_quiet_stream_with_keep_alives_is_never_reconnected() -> None:
    """Keep-alives every 20 s and nothing else for two minutes: zero reconnects."""
    assert STALL_TIMEOUT > KEEP_ALIVE_INTERVAL * 2
    async with FakeXServer(bearer_token=TOKEN, keep_alive_interval=KEEP_ALIVE_INTERVAL * FAKE
                           ) as fake:
        source = XSource(TOKEN, fake.url, HASHTAGS, Posts(), stall_timeout=STALL_TIMEOUT * FAKE,
                         backoff_scale=SCALE)
        try:
            await source.start()
            two_minutes = int(120 / KEEP_ALIVE_INTERVAL)
            health = await source.wait_for(lambda h: h["keep_alives"] >= two_minutes, TIMEOUT)
        finally:
            await asyncio.wait_for(source.stop(), TIMEOUT)
    assert health["reconnects"] == 0 and health["state"] == "connected"
    assert [h for h in source.history if h["state"] == "backing_off"] == []
    assert len(fake.stream_requests()) == 1


def test_stall_timeout_setting_must_exceed_the_keep_alive_interval() -> None:
    """HASHWALL_X_STALL_TIMEOUT of 20 s or less is refused at start, naming the setting."""
    from server.settings import SettingsError

    with pytest.raises(SettingsError, match="HASHWALL_X_STALL_TIMEOUT"):
        make_settings(x_stall_timeout=20)
    assert make_settings().x_stall_timeout == STALL_TIMEOUT


def test_reading_states_and_cost() -> None:
    """Reads below 80 % are ok, from 80 % a warning, at the budget exhausted; cost = price."""
    assert Reading("2026-12", 79, 100, 0.005).state == "ok"
    assert Reading("2026-12", 80, 100, 0.005).state == "warning"
    assert Reading("2026-12", 100, 100, 0.005).state == "exhausted"
    assert Reading("2026-12", 10**6, None, 0.005).state == "ok"
    assert Reading("2026-12", 1000, None, 0.005).cost == 5.0
    assert counter_name(datetime(2026, 12, 31, 23, 59, tzinfo=UTC)) == "x.reads.2026-12"


async def test_reads_add_up_across_processes_and_months(store_url: str) -> None:
    """Two counters on one store add to one monthly total; a new month starts from zero."""
    moment = [datetime(2026, 11, 30, 23, 0, tzinfo=UTC)]
    store = create_store(store_url)
    await store.open()
    try:
        one = ReadCounter(store, 100, interval=3600, batch=3, now=lambda: moment[0])
        two = ReadCounter(store, 100, interval=3600, batch=3, now=lambda: moment[0])
        await one.load()
        await two.load()
        for _ in range(4):
            await one.add()
        await two.add(3)
        assert await store.get_count("x.reads.2026-11") == 6  # one's 4th read is unsaved
        assert two.reading().reads == 6
        moment[0] = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
        reading = await one.add()
        assert reading.month == "2026-12" and reading.reads == 1
        assert await store.get_count("x.reads.2026-11") == 7
        await one.close()
        await two.close()
        assert await store.get_count("x.reads.2026-12") == 1
    finally:
        await store.close()


async def test_budget_warns_at_80_percent_and_stops_x_at_100(
    fake_x: FakeXServer, store_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    """At 80 % the consoles get a warning; at 100 % the X stream stops cleanly, says why on
    the consoles, /healthz and /metrics, and the other sources go on."""
    replay = tmp_path / "replay.jsonl"
    replay.write_text("")
    settings = make_settings(store_url=store_url, x_bearer_token=TOKEN, x_api_url=fake_x.url,
                             hashtags=HASHTAGS, replay_file=replay, replay_speed=0,
                             x_monthly_read_budget=5, heartbeat_seconds=0.05)
    caplog.set_level(logging.WARNING)
    async with run_server(settings) as running, moderator(running) as console_http:
        x = next(s for s in running.wall.sources if s.name == "x")
        await until(lambda: x.health()["connected"])
        async with ws_client(f"{running.ws_base}/ws/moderate",
                             additional_headers={"Cookie": session_cookie(console_http)}
                             ) as console:
            await recv_until(console, "queue.snapshot")
            for n in range(4):
                fake_x.push(item(n))
            warning = (await recv_until(console, "source.notice"))[-1]
            assert x.health()["read_budget"]["state"] == "warning"
            fake_x.push(item(4))
            fake_x.push(item(5))
            spent = (await recv_until(console, "source.notice"))[-1]
        await until(lambda: x.health()["state"] == "budget_exhausted")
        await fake_x.wait_until(lambda: fake_x.open_connections == 0)
        async with ws_client(f"{running.ws_base}/ws/moderate",
                             additional_headers={"Cookie": session_cookie(console_http)}
                             ) as late:
            snapshot = await recv(late)
        async with httpx.AsyncClient(base_url=running.base, timeout=TIMEOUT) as http:
            health = await http.get("/healthz")
            metrics = (await http.get("/metrics")).text
        count = await running.wall.store.get_count(counter_name(datetime.now(UTC)))
    assert warning["level"] == "warning" and warning["source"] == "x"
    assert warning["message"].startswith("X read budget warning: 4 of 5 posts read")
    assert spent["level"] == "error" and spent["read_budget"]["reads"] == 5
    assert snapshot["notices"] == [spent]
    assert snapshot["sources"]["x"]["state"] == "budget_exhausted"
    assert any("X read budget warning: 4 of 5" in r.getMessage() for r in caplog.records)
    body = health.json()
    assert health.status_code == 200 and body["ok"] is True
    stopped = body["sources"]["x"]
    assert stopped["posts_received"] == 5 and count == 5
    assert "X read budget exhausted: 5 of 5 posts read" in stopped["last_error"]
    assert stopped["read_budget"]["estimated_cost_usd"] == 0.025
    assert body["sources"]["replay"]["ok"] is True
    assert 'hashwall_source_reads_this_month{source="x"} 5.0' in metrics
    assert 'hashwall_source_state{source="x",state="budget_exhausted"} 1.0' in metrics

    # A restart in the same month does not open the stream again.
    requests = len(fake_x.stream_requests())
    async with run_server(settings) as running:
        x = next(s for s in running.wall.sources if s.name == "x")
        await until(lambda: x.health()["state"] == "budget_exhausted")
    assert len(fake_x.stream_requests()) == requests
