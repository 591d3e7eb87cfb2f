"""The real Mastodon source against fake Mastodon servers, into the real pipeline and store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from moderation.post import Status
from moderation.rules import RuleSet
from moderation.store import Store, create_store
from server.metrics import source_readings
from server.pipeline import Pipeline
from server.sources.mastodon.normalise import normalise_status
from server.sources.mastodon.source import MastodonSource
from tests.fake_mastodon.recordings import unique_statuses
from tests.fake_mastodon.server import TOKEN, FakeMastodonServer

TAG = "#uemedef14"
# Public, not boosts, not bridged: each its own post in the queue.
PUBLIC = [s for s in unique_statuses("rtoot_real_statuses.jsonl")
          if s["visibility"] == "public" and not s.get("reblog") and "brid.gy" not in s["uri"]
          and not s["edited_at"]]
PRIVATE = [s for s in unique_statuses() if s["visibility"] in ("private", "direct")]
TIMEOUT = 10.0


class Line:
    """A real pipeline over a real SQLite store, and the sources the test starts on it."""

    def __init__(self, store: Store, pipeline: Pipeline) -> None:
        self.store = store
        self.pipeline = pipeline
        self.sources: list[MastodonSource] = []

    def source(self, servers: list[FakeMastodonServer], tokens: bool = True,
               **options: Any) -> MastodonSource:
        source = MastodonSource(
            [s.base for s in servers], [TAG], self.pipeline, self.store,
            tokens={s.host: s.token for s in servers if s.token} if tokens else {},
            **options)
        self.sources.append(source)
        return source

    async def queued(self) -> list[str]:
        """Ids of every post in the queue, whatever its status."""
        await asyncio.wait_for(self.pipeline.settled(), TIMEOUT)
        return [i.post.id for status in Status
                for i in await self.store.list_items(status, 1000)]


@pytest.fixture
async def line(tmp_path: Path) -> AsyncIterator[Line]:
    """A pipeline over a fresh SQLite store; every source started on it is stopped."""
    store = create_store(f"sqlite:///{tmp_path / 'wall.sqlite3'}")
    await store.open()
    pipeline = Pipeline(store, RuleSet())
    await pipeline.start()
    made = Line(store, pipeline)
    try:
        yield made
    finally:
        for source in made.sources:
            await source.stop()
        await pipeline.stop()
        await store.close()


@pytest.fixture
async def mastodon() -> AsyncIterator[FakeMastodonServer]:
    """A fake Mastodon server with websocket and SSE streaming."""
    async with FakeMastodonServer() as server:
        yield server


def part(source: MastodonSource, server: FakeMastodonServer) -> dict[str, Any]:
    """One server's health as /healthz shows it."""
    connections: dict[str, Any] = source.health()["connections"]
    return dict(connections[server.host])


def handed_on(source: MastodonSource, server: FakeMastodonServer, count: int,
              ) -> Callable[[dict[str, Any]], bool]:
    return lambda health: health["connections"][server.host]["handed_on"] >= count


def uri_id(status: dict[str, Any]) -> str:
    return normalise_status(status).id


async def streaming(source: MastodonSource, server: FakeMastodonServer, mode: str) -> None:
    """Wait until the source reads the server in `mode` and its stream is subscribed."""
    await source.wait_for(lambda h: h["connections"][server.host]["state"] == "connected",
                          TIMEOUT)
    assert part(source, server)["mode"] == mode
    if mode != "polling":
        await server.wait_until(lambda: server.streams_for(TAG.lstrip("#")) == 1, TIMEOUT)


async def test_websocket_streaming_backfills_then_streams_new_statuses(
        line: Line, mastodon: FakeMastodonServer) -> None:
    """With a token the source backfills the latest statuses, then gets new ones over one
    websocket subscribed to the hashtag."""
    for status in PUBLIC[:3]:
        mastodon.post(status, TAG)
    source = line.source([mastodon])
    await source.start()
    await source.wait_for(handed_on(source, mastodon, 3), TIMEOUT)
    await streaming(source, mastodon, "streaming")
    mastodon.post(PUBLIC[3], TAG)
    await source.wait_for(handed_on(source, mastodon, 4), TIMEOUT)
    assert sorted(await line.queued()) == sorted(uri_id(s) for s in PUBLIC[:4])
    health = part(source, mastodon)
    assert health["streaming_url"] == mastodon.base.replace("http", "ws")
    assert health["last_item_at"] is not None and health["errors"] == 0
    assert not mastodon.logged("/api/v1/streaming/hashtag")  # no SSE needed
    readings = {m.name: m for m in source_readings([source])}
    modes = [s.labels for s in readings["hashwall_source_mode"].samples]
    assert {"source": "mastodon", "connection": mastodon.host, "mode": "streaming"} in modes


async def test_the_same_status_from_two_servers_is_queued_once(line: Line) -> None:
    """A status seen on two servers (different local ids, same uri) is one post."""
    async with FakeMastodonServer() as one, FakeMastodonServer() as two:
        source = line.source([one, two])
        await source.start()
        await streaming(source, one, "streaming")
        await streaming(source, two, "streaming")
        one.post(PUBLIC[0], TAG)
        two.post(PUBLIC[0], TAG)
        two.post(PUBLIC[1], TAG)
        await source.wait_for(lambda h: h["connections"][one.host]["statuses"] >= 1
                              and h["connections"][two.host]["statuses"] >= 2, TIMEOUT)
        assert sorted(await line.queued()) == sorted([uri_id(PUBLIC[0]), uri_id(PUBLIC[1])])


async def test_private_and_direct_statuses_never_reach_the_queue(
        line: Line, mastodon: FakeMastodonServer) -> None:
    """Non-public statuses arriving on the stream are dropped and counted."""
    source = line.source([mastodon])
    await source.start()
    await streaming(source, mastodon, "streaming")
    for status in PRIVATE[:3]:
        mastodon.post(status, TAG)
    mastodon.post(PUBLIC[0], TAG)
    await source.wait_for(handed_on(source, mastodon, 1), TIMEOUT)
    assert await line.queued() == [uri_id(PUBLIC[0])]
    assert part(source, mastodon)["dropped_not_public"] == 3


async def test_a_deleted_status_is_retracted_within_a_second(
        line: Line, mastodon: FakeMastodonServer) -> None:
    """`delete` takes the post back: a pending post is rejected, by Mastodon, in < 1 s."""
    source = line.source([mastodon])
    await source.start()
    await streaming(source, mastodon, "streaming")
    local_id = mastodon.post(PUBLIC[0], TAG)
    await source.wait_for(handed_on(source, mastodon, 1), TIMEOUT)
    await line.pipeline.settled()
    started = asyncio.get_running_loop().time()
    mastodon.delete(local_id)
    await source.wait_for(handed_on(source, mastodon, 2), TIMEOUT)
    await asyncio.wait_for(line.pipeline.settled(), TIMEOUT)
    item = await line.store.get(uri_id(PUBLIC[0]))
    assert item is not None and item.status is Status.REJECTED
    assert asyncio.get_running_loop().time() - started < 1.0
    assert item.decided_by is not None and item.decided_by.startswith("mastodon:")


async def test_an_edit_on_the_stream_supersedes_the_pending_version(
        line: Line, mastodon: FakeMastodonServer) -> None:
    """`status.update` queues the new version as an edit; the old pending one is rejected."""
    source = line.source([mastodon])
    await source.start()
    await streaming(source, mastodon, "streaming")
    local_id = mastodon.post(PUBLIC[0], TAG)
    await source.wait_for(handed_on(source, mastodon, 1), TIMEOUT)
    mastodon.edit(local_id, "<p>corrigé : rendez-vous salle 2 #uemedef14</p>",
                  "2026-08-27T09:00:00.000Z")
    await source.wait_for(handed_on(source, mastodon, 2), TIMEOUT)
    await asyncio.wait_for(line.pipeline.settled(), TIMEOUT)
    pending = await line.store.list_items(Status.PENDING, 10)
    assert [i.post.text for i in pending] == ["corrigé : rendez-vous salle 2 #uemedef14"]
    assert pending[0].post.edit_of == uri_id(PUBLIC[0])
    rejected = await line.store.list_items(Status.REJECTED, 10)
    assert [(i.post.id, i.rule) for i in rejected] == [(uri_id(PUBLIC[0]), "edit.superseded")]


async def test_a_restart_backfills_from_the_saved_cursor_missing_and_repeating_nothing(
        line: Line, mastodon: FakeMastodonServer) -> None:
    """Statuses posted while hashwall was stopped arrive after the restart, exactly once."""
    first = line.source([mastodon])
    await first.start()
    await streaming(first, mastodon, "streaming")
    seen = [mastodon.post(s, TAG) for s in PUBLIC[:2]]
    await first.wait_for(handed_on(first, mastodon, 2), TIMEOUT)
    await first.stop()
    assert await line.store.get_cursor("mastodon", mastodon.host) == seen[-1]
    for status in PUBLIC[2:5]:
        mastodon.post(status, TAG)
    second = line.source([mastodon])
    await second.start()
    await second.wait_for(handed_on(second, mastodon, 3), TIMEOUT)
    await streaming(second, mastodon, "streaming")
    assert part(second, mastodon)["statuses"] == 3  # the two seen before were not read again
    backfill = mastodon.logged("/api/v1/timelines/tag/")[-1]
    assert backfill.query["min_id"] == [seen[-1]]
    assert sorted(await line.queued()) == sorted(uri_id(s) for s in PUBLIC[:5])


async def test_a_dropped_stream_reconnects_and_backfills_the_gap(
        line: Line, mastodon: FakeMastodonServer) -> None:
    """After a cut, what was posted while disconnected is read on reconnect."""
    gate = asyncio.Event()
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        await gate.wait()

    source = line.source([mastodon], sleep=sleep)
    await source.start()
    await streaming(source, mastodon, "streaming")
    mastodon.drop_streams()
    await source.wait_for(lambda h: h["connections"][mastodon.host]["state"] == "backing_off",
                          TIMEOUT)
    mastodon.post(PUBLIC[0], TAG)  # nobody is subscribed: only a backfill can find it
    gate.set()
    await source.wait_for(handed_on(source, mastodon, 1), TIMEOUT)
    await streaming(source, mastodon, "streaming")
    assert part(source, mastodon)["reconnects"] == 1 and waits == [0.0]
    assert await line.queued() == [uri_id(PUBLIC[0])]


async def test_without_a_token_the_server_is_polled(line: Line) -> None:
    """A server without a token is polled on its tag timeline at the set interval."""
    async with FakeMastodonServer(token=None) as server:
        source = line.source([server], tokens=False, poll_seconds=0.05)
        await source.start()
        await streaming(source, server, "polling")
        server.post(PUBLIC[0], TAG)
        await source.wait_for(handed_on(source, server, 1), TIMEOUT)
        assert not server.logged("/api/v1/streaming")
        assert await line.queued() == [uri_id(PUBLIC[0])]


async def test_sse_is_the_fallback_and_polling_the_last_resort(line: Line) -> None:
    """Without websocket streaming the source uses SSE; without SSE either, it polls."""
    async with FakeMastodonServer(websocket=False, heartbeat=0.05) as sse_only, \
            FakeMastodonServer(websocket=False, sse=False) as rest_only:
        source = line.source([sse_only, rest_only], poll_seconds=0.05)
        await source.start()
        await streaming(source, sse_only, "sse")
        await streaming(source, rest_only, "polling")
        sse_only.post(PUBLIC[0], TAG)
        rest_only.post(PUBLIC[1], TAG)
        await source.wait_for(handed_on(source, sse_only, 1), TIMEOUT)
        await source.wait_for(handed_on(source, rest_only, 1), TIMEOUT)
        assert sorted(await line.queued()) == sorted([uri_id(PUBLIC[0]), uri_id(PUBLIC[1])])
        assert part(source, sse_only)["last_keep_alive"] is not None  # the :thump comments


async def test_a_refused_token_stops_that_server_only(line: Line) -> None:
    """401 stops one server with a message naming the setting; the other goes on."""
    async with FakeMastodonServer() as good, FakeMastodonServer(token="another") as bad:
        source = line.source([good, bad])
        source_tokens = {good.host: TOKEN, bad.host: "revoked"}
        for host, token in source_tokens.items():
            source.servers[host].token = token
        await source.start()
        await source.wait_for(lambda h: h["connections"][bad.host]["state"] == "failed",
                              TIMEOUT)
        await streaming(source, good, "streaming")
        error = part(source, bad)["last_error"]
        assert "HTTP 401" in error and "HASHWALL_MASTODON_TOKENS" in error
        assert source.health()["ok"] is True
        good.post(PUBLIC[0], TAG)
        await source.wait_for(handed_on(source, good, 1), TIMEOUT)


async def test_a_signed_in_only_server_says_a_token_is_needed(line: Line) -> None:
    """A server that shows hashtags only to signed-in users is reported clearly."""
    async with FakeMastodonServer(signed_in_only=True) as server:
        source = line.source([server], tokens=False)
        await source.start()
        health = await source.wait_for(lambda h: h["state"] == "failed", TIMEOUT)
        assert "lets only signed-in users read hashtag timelines" in health["last_error"]
        assert health["ok"] is False


@pytest.mark.parametrize("headers, wait", [
    ({"Retry-After": "120"}, 120.0),
    ({"X-RateLimit-Reset": "2099-01-01T00:00:00.000Z"}, 3600.0),  # capped by the policy
    ({}, 60.0),
])
async def test_a_rate_limit_waits_what_the_server_says(
        line: Line, mastodon: FakeMastodonServer, headers: dict[str, str], wait: float) -> None:
    """429 waits Retry-After or until X-RateLimit-Reset (a minute at least), then resumes."""
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    mastodon.fail_next("/api/v1/timelines/tag/", 429, {"error": "Too many requests"},
                       headers)
    source = line.source([mastodon], sleep=sleep)
    await source.start()
    await streaming(source, mastodon, "streaming")
    assert waits == [wait]
    assert part(source, mastodon)["errors"] == 1


async def test_server_errors_back_off_and_recover(
        line: Line, mastodon: FakeMastodonServer) -> None:
    """5xx answers back off (5 s, then 10 s) and the source recovers by itself."""
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    mastodon.fail_next("/api/v1/timelines/tag/", 503, {"error": "Service Unavailable"},
                       times=2)
    source = line.source([mastodon], sleep=sleep)
    await source.start()
    await streaming(source, mastodon, "streaming")
    assert waits == [5.0, 10.0]
    mastodon.post(PUBLIC[0], TAG)
    await source.wait_for(handed_on(source, mastodon, 1), TIMEOUT)


async def test_sse_reads_the_other_hashtags_from_the_timeline(line: Line) -> None:
    """SSE streams one tag; a status with only the second tag still arrives."""
    async with FakeMastodonServer(websocket=False, heartbeat=0.05) as server:
        source = MastodonSource([server.base], [TAG, "#Paroles2CEO"], line.pipeline,
                                line.store, tokens={server.host: TOKEN}, poll_seconds=0.05)
        line.sources.append(source)
        await source.start()
        await streaming(source, server, "sse")
        server.post(PUBLIC[0], "#Paroles2CEO")
        await source.wait_for(handed_on(source, server, 1), TIMEOUT)
        assert await line.queued() == [uri_id(PUBLIC[0])]


async def test_a_forbidden_answer_stops_the_server(line: Line,
                                                   mastodon: FakeMastodonServer) -> None:
    """403 on the hashtag timeline stops that server with a clear message."""
    mastodon.fail_next("/api/v1/timelines/tag/", 403,
                       {"error": "This action is outside the authorized scopes"})
    source = line.source([mastodon])
    await source.start()
    health = await source.wait_for(lambda h: h["state"] == "failed", TIMEOUT)
    assert health["last_error"] == (
        f"{mastodon.host} refused the read token (HTTP 403: This action is outside the "
        "authorized scopes); check its entry in HASHWALL_MASTODON_TOKENS")


async def test_unlisted_statuses_pass_only_when_allowed(line: Line,
                                                        mastodon: FakeMastodonServer) -> None:
    """HASHWALL_MASTODON_UNLISTED lets unlisted statuses through; private never."""
    unlisted = next(s for s in unique_statuses() if s["visibility"] == "unlisted"
                    and not s.get("reblog") and "brid.gy" not in s["uri"])
    source = line.source([mastodon], allow_unlisted=True)
    await source.start()
    await streaming(source, mastodon, "streaming")
    mastodon.post(PRIVATE[0], TAG)
    mastodon.post(unlisted, TAG)
    await source.wait_for(handed_on(source, mastodon, 1), TIMEOUT)
    assert await line.queued() == [uri_id(unlisted)]
