"""The streaming base, the registry and the sink every source uses."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from moderation.post import Post, Status
from moderation.store import create_store
from server.pipeline import Pipeline
from server.settings import SettingsError
from server.sources import registry
from server.sources.base import (
    KEEP_ALIVE,
    X_BACKOFF,
    Backoff,
    BackoffPolicy,
    Fatal,
    Retry,
    Sink,
    Source,
    SourceCursor,
    StreamingSource,
)
from tests.utils import TIMEOUT, make_post, make_settings, recv_until, run_server, ws_client

# -- a toy source, registered in a few lines --------------------------------------------


class ListSource(StreamingSource):
    """A source that hands on a list of posts, then keeps its connection open."""

    name = "toy"

    def __init__(self, sink: Sink, posts: Sequence[Post]) -> None:
        super().__init__(sink)
        self.posts = posts

    async def connect(self, key: str) -> None:
        pass

    async def read(self, key: str) -> AsyncIterator[Any]:
        for post in self.posts:
            yield post
        await asyncio.Event().wait()

    async def handle(self, key: str, item: Any) -> None:
        await self.sink.offer(item)


TOY = registry.SourceEntry("toy", lambda s: True, lambda s: None,
                           lambda settings, sink, store: ListSource(sink, [make_post(1),
                                                                           make_post(2)]))


async def test_toy_source_reaches_queue_and_healthz(
    store_url: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A source registered in a few lines has its posts queued and its health on /healthz."""
    monkeypatch.setitem(registry.ENTRIES, "toy", TOY)
    settings = make_settings(store_url=store_url, sources=["toy"])
    async with run_server(settings) as running:
        wall = running.wall
        async with asyncio.timeout(TIMEOUT):
            while await wall.store.count(Status.PENDING) < 2:
                await wall.pipeline.settled()
                await asyncio.sleep(0.01)
        async with httpx.AsyncClient(base_url=running.base, timeout=TIMEOUT) as client:
            health = (await client.get("/healthz")).json()
            metrics = (await client.get("/metrics")).text
    toy = health["sources"]["toy"]
    assert toy["state"] == "connected" and toy["items_received"] == 2 and toy["ok"]
    assert toy["connected_since"] is not None and toy["last_item_at"] is not None
    assert 'hashwall_source_items_received_total{source="toy"} 2.0' in metrics
    assert 'hashwall_source_state{source="toy",state="connected"} 1.0' in metrics


# -- registry ----------------------------------------------------------------------------


def test_registry_default_runs_configured_sources(tmp_path: Any) -> None:
    """Unset, HASHWALL_SOURCES runs every source whose settings are present."""
    replay = tmp_path / "r.jsonl"
    replay.write_text("")
    assert [e.name for e in registry.chosen(make_settings())] == []
    names = [e.name for e in registry.chosen(make_settings(replay_file=replay,
                                                           x_bearer_token="t"))]
    assert names == ["replay", "x"]
    assert [e.name for e in registry.chosen(make_settings(replay_file=replay, x_bearer_token="t",
                                                          sources="x"))] == ["x"]
    assert registry.chosen(make_settings(x_bearer_token="t", sources="")) == []


def test_registry_errors_name_the_setting() -> None:
    """An unknown source or a named source without its settings is a start-up error."""
    with pytest.raises(SettingsError, match=r"HASHWALL_SOURCES: expected source names among "
                                            r"replay, x.*got .nope."):
        registry.chosen(make_settings(sources="nope"))
    with pytest.raises(SettingsError, match="'x', which needs X_BEARER_TOKEN"):
        registry.chosen(make_settings(sources="X"))


# -- backoff -----------------------------------------------------------------------------


def test_backoff_policy_is_data() -> None:
    """The X policy's documented numbers; a longer Retry-After wins, capped by the policy."""
    assert (X_BACKOFF.network_step, X_BACKOFF.network_max, X_BACKOFF.http_start,
            X_BACKOFF.http_max, X_BACKOFF.rate_limit_start) == (0.25, 16, 5, 320, 60)
    backoff = Backoff(X_BACKOFF)
    assert [backoff.network() for _ in range(3)] == [0, 0.25, 0.5]
    assert backoff.rate_limited(retry_after=900) == 900
    assert backoff.rate_limited(retry_after=1) == 120
    strict = Backoff(BackoffPolicy(1, 4, 2, 8, 3, network_start=1, honour_retry_after=False))
    assert [strict.network() for _ in range(5)] == [1, 2, 3, 4, 4]
    assert strict.after("http", retry_after=100) == 2


# -- the streaming loop ------------------------------------------------------------------


class Scripted(StreamingSource):
    """Each connection plays the next script: an exception to raise on connect, or items to
    read (then "hang" waits forever; otherwise the connection ends)."""

    name = "scripted"

    def __init__(self, scripts: dict[str, list[Any]], **kwargs: Any) -> None:
        self.received: list[tuple[str, Any]] = []
        self.waits: list[float] = []
        self.scripts = scripts
        self.current: dict[str, list[Any]] = {}

        async def sleep(seconds: float) -> None:
            self.waits.append(seconds)
            await asyncio.sleep(0)

        super().__init__(Pipeline.__new__(Pipeline), sleep=sleep, **kwargs)

    def keys(self) -> Sequence[str]:
        return list(self.scripts)

    async def connect(self, key: str) -> None:
        script = self.scripts[key].pop(0) if self.scripts[key] else ["hang"]
        if isinstance(script, Exception):
            raise script
        self.current[key] = script

    async def read(self, key: str) -> AsyncIterator[Any]:
        for item in self.current[key]:
            if item == "hang":
                await asyncio.Event().wait()
            yield item

    async def handle(self, key: str, item: Any) -> None:
        if item == "boom":
            raise ValueError("a bad item")
        self.received.append((key, item))


async def test_fatal_error_stops_for_good() -> None:
    """A fatal error (a refused token) stops the source in state failed, saying why."""
    source = Scripted({"": [Fatal("HTTP 401: the token was refused; check THE_TOKEN")]})
    await source.start()
    health = await source.wait_for(lambda h: h["state"] == "failed", TIMEOUT)
    assert not health["ok"] and "THE_TOKEN" in health["last_error"]
    assert not source.running and source.waits == []
    await source.stop()
    assert source.health()["state"] == "failed"


async def test_backoff_resets_once_a_connection_delivers() -> None:
    """HTTP errors double the wait, Retry-After is honoured, and data resets the backoff."""
    source = Scripted({"": [Retry("HTTP 503", "http"), Retry("HTTP 503", "http"),
                            Retry("HTTP 429", "rate_limited", retry_after=200),
                            [1, KEEP_ALIVE], Retry("HTTP 500", "http"), [2, "boom", 3, "hang"]]},
                      backoff_scale=0.0)
    await source.start()
    health = await source.wait_for(lambda h: h["items_received"] == 4 and h["connected"],
                                   TIMEOUT)
    await source.stop()
    # 5, 10 (http), 200 (Retry-After), 0 (the stream ended after data: network, reset),
    # 5 (http, reset by that data).
    assert source.waits == [0.0] * 5
    assert [h["retry_in"] for h in source.history if h["state"] == "backing_off"] == [
        5, 10, 200, 0, 5]
    assert [item for _, item in source.received] == [1, 2, 3]
    assert health["reconnects"] == 1 and health["last_keep_alive"] is not None
    assert "a bad item" in (health["last_error"] or "")


async def test_stall_is_dropped_and_reopened() -> None:
    """A connection silent for longer than the stall timeout is closed and reopened."""
    source = Scripted({"": [[1, "hang"], [2, "hang"]]}, stall_timeout=0.05)
    await source.start()
    health = await source.wait_for(lambda h: h["items_received"] == 2, TIMEOUT)
    await source.stop()
    assert health["reconnects"] == 1
    assert any("stalled" in (h["error"] or "") for h in source.history)


async def test_several_connections_report_health_per_key() -> None:
    """A source with several connections reports each one under connections; it is ok while
    one works, and failed once every one failed."""
    source = Scripted({"a.example": [[1, "hang"]], "b.example": [Fatal("refused"), ]})
    await source.start()
    health = await source.wait_for(
        lambda h: h["items_received"] == 1 and h["connections"]["b.example"]["state"] == "failed",
        TIMEOUT)
    await source.stop()
    assert health["connections"]["a.example"]["state"] == "connected"
    assert health["state"] == "connected" and health["ok"] and health["failed_connections"] == 1
    assert health["last_error"] == "refused"
    both = Scripted({"a.example": [Fatal("refused a")], "b.example": [Fatal("refused b")]})
    await both.start()
    health = await both.wait_for(lambda h: h["failed_connections"] == 2, TIMEOUT)
    await both.stop()
    assert health["state"] == "failed" and not health["ok"]


async def test_finish_stops_every_connection_cleanly() -> None:
    """finish() stops a source on purpose in a state of its own, still ok, saying why."""

    class Spender(Scripted):
        async def handle(self, key: str, item: Any) -> None:
            await super().handle(key, item)
            if item == 2:
                await self.finish("budget_exhausted", "the monthly budget is spent")

    source = Spender({"a": [[1, 2, 3, "hang"]], "b": [["hang"]]})
    await source.start()
    health = await source.wait_for(lambda h: not source.running, TIMEOUT)
    await source.stop()
    assert health["state"] == "budget_exhausted" and health["ok"]
    assert source.received == [("a", 1), ("a", 2)]
    assert source.health()["last_error"] == "the monthly budget is spent"


# -- cursors -----------------------------------------------------------------------------


async def test_cursor_persists_in_the_store(store_url: str) -> None:
    """A cursor saved (or noted and flushed) is loaded again by a new store connection."""
    now = [0.0]
    store = create_store(store_url)
    await store.open()
    try:
        cursor = SourceCursor(store, "toy", "host", interval=1.0, clock=lambda: now[0])
        assert await cursor.load() is None
        await cursor.note("1")  # written (nothing was)
        now[0] = 0.5
        await cursor.note("2")  # noted only: the last write is 0.5 s old
        assert await store.get_cursor("toy", "host") == "1"
        await cursor.flush()  # written
        assert await store.get_cursor("toy", "host") == "2"
        now[0] = 2.0
        await cursor.note("3")
    finally:
        await store.close()
    store = create_store(store_url)
    await store.open()
    try:
        assert await SourceCursor(store, "toy", "host").load() == "3"
        assert await SourceCursor(store, "toy", "other").load() is None
    finally:
        await store.close()


# -- retraction --------------------------------------------------------------------------


async def test_retract_hides_shown_and_rejects_pending(store_url: str) -> None:
    """A deleted post leaves the screens (approved → hidden) or the queue (pending →
    rejected), audited with the network as actor; an unknown id is ignored."""
    settings = make_settings(store_url=store_url, trusted_authors=["trusted"])
    async with run_server(settings) as running:
        pipeline = running.wall.pipeline
        async with ws_client(f"{running.ws_base}/ws") as screen:
            await recv_until(screen, "snapshot")
            await pipeline.offer(make_post(1, handle="trusted"))
            # Shown before it is deleted: a screen is never sent a post hidden by then.
            seen = await recv_until(screen, "post.shown")
            await pipeline.offer(make_post(2))
            await pipeline.retract("x:1", "deleted by its author")
            await pipeline.retract("x:2", "deleted by its author")
            await pipeline.retract("x:404", "deleted by its author")
            await pipeline.settled()
            seen += await recv_until(screen, "post.retracted")
        store = running.wall.store
        first, second = await store.get("x:1"), await store.get("x:2")
        assert first is not None and first.status is Status.HIDDEN
        assert second is not None and second.status is Status.REJECTED
        assert await store.get("x:404") is None
        assert [m["type"] for m in seen][-2:] == ["post.shown", "post.retracted"]
        audit = {(e.post_id, e.action): e.actor for e in await store.audit()}
        assert audit[("x:1", "hide")] == "x: deleted by its author"
        assert audit[("x:2", "reject")] == "x: deleted by its author"
        assert pipeline.retracted == 2


def test_pipeline_is_a_sink() -> None:
    """The pipeline offers what the Sink protocol names, and sources satisfy Source."""
    sink: Sink = Pipeline.__new__(Pipeline)
    source: Source = ListSource(sink, [])
    assert callable(sink.retract) and source.name == "toy"


@pytest.mark.parametrize("command", ["serve", "ingest"])
def test_cli_refuses_a_source_without_its_settings(tmp_path: Path, command: str) -> None:
    """`hashwall serve` and `hashwall ingest` stop at once, naming the missing setting."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("HASHWALL_") and k != "X_BEARER_TOKEN"}
    env.update(PYTHONPATH=str(Path(__file__).resolve().parents[1]),
               HASHWALL_SOURCES="replay,x", HASHWALL_REPLAY_FILE=str(tmp_path / "r.jsonl"))
    result = subprocess.run([sys.executable, "-m", "server.cli", command, "--port", "0"]
                            if command == "serve" else
                            [sys.executable, "-m", "server.cli", command],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "HASHWALL_SOURCES names 'x', which needs X_BEARER_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr
