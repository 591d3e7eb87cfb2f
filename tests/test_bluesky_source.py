"""The Bluesky source against a fake Jetstream and a fake AppView, with the real pipeline
and a real SQLite store."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson
import pytest
import zstandard

from moderation.post import Post, Status
from moderation.store import Store, create_store
from server.pipeline import Pipeline, pipeline_for
from server.sources.bluesky.events import POST, REPOST
from server.sources.bluesky.source import BlueskyConfig, BlueskySource
from tests.fake_bluesky import corpus, written
from tests.fake_bluesky.appview import FakeAppView, running_appview
from tests.fake_bluesky.jetstream import FakeJetstream, running_jetstream
from tests.utils import make_settings

TIMEOUT = 20.0
A = "did:plc:writtenauthoraaaaaaaaaaa"
B = "did:plc:writtenauthorbbbbbbbbbbb"


def uri(did: str, rkey: str) -> str:
    return f"bluesky:at://{did}/app.bsky.feed.post/{rkey}"


@dataclass
class Recorder:
    """A sink that keeps what the source handed on and passes it to the real pipeline."""

    pipeline: Pipeline
    offered: list[Post] = field(default_factory=list)
    retracted: list[str] = field(default_factory=list)

    async def offer(self, post: Post) -> None:
        self.offered.append(post)
        await self.pipeline.offer(post)

    async def retract(self, post_id: str, reason: str) -> None:
        self.retracted.append(post_id)
        await self.pipeline.retract(post_id, reason)


@dataclass
class World:
    jetstream: FakeJetstream
    appview: FakeAppView
    store: Store
    sink: Recorder
    config: BlueskyConfig
    sources: list[BlueskySource] = field(default_factory=list)

    def source(self, **changes: Any) -> BlueskySource:
        source = BlueskySource(replace(self.config, **changes), self.sink, self.store,
                               backoff_scale=0.01)
        self.sources.append(source)
        return source


def wanted(lines: list[bytes]) -> int:
    """How many of `lines` a post+repost subscription receives."""
    count = 0
    for line in lines:
        commit = orjson.loads(line).get("commit")
        count += commit is None or commit["collection"] in (POST, REPOST)
    return count


async def drained(source: BlueskySource, seen: int, last: bytes | None = None,
                  ) -> dict[str, Any]:
    """Wait until the source saw `seen` events (and the one of `last`) and no post waits
    for a profile."""
    host = source.host
    until = orjson.loads(last)["time_us"] if last else 0
    return await source.wait_for(
        lambda h: h["hosts"][host]["events_seen"] >= seen
        and (h["position_time_us"] or 0) >= until
        and h["profiles"]["waiting_posts"] == 0, TIMEOUT)


@contextlib.asynccontextmanager
async def world_at(tmp_path: Path, dictionary: bytes | None = None) -> AsyncIterator[World]:
    async with running_jetstream(dictionary) as jetstream, running_appview() as appview:
        store = create_store(f"sqlite:///{tmp_path / 'wall.sqlite3'}")
        await store.open()
        pipeline = pipeline_for(make_settings(store_url=store.url), store)
        await pipeline.start()
        config = BlueskyConfig(hosts=(jetstream.url,), appview_url=appview.url,
                               plc_url=appview.url, hashtags=("#uemedef14", "#Paroles2CEO"),
                               dictionary=dictionary, stall_timeout=None, profile_wait=10.0)
        world = World(jetstream, appview, store, Recorder(pipeline), config)
        try:
            yield world
        finally:
            for source in world.sources:
                await source.stop()
            await pipeline.stop()
            await store.close()


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with world_at(tmp_path) as world:
        yield world


async def test_tagged_posts_are_queued_with_their_authors(world: World) -> None:
    """Every tagged post is queued once with its author's handle; the rest of the network
    and the authors asking not to be shown to logged-out viewers are not."""
    source = world.source()
    await source.start()
    await asyncio.wait_for(world.jetstream.wait_connects(1), TIMEOUT)
    lines = corpus() + written()
    world.jetstream.publish(lines)
    await drained(source, wanted(lines))
    await world.sink.pipeline.settled()
    ids = [p.id for p in world.sink.offered if p.kind.value != "retweet"]
    assert len(ids) == len(set(ids))
    assert uri(A, "3mwrit00001") in ids and uri(A, "3mwrit00003") in ids
    assert uri(A, "3mwrit00018") not in ids  # #uemedef15
    assert not any("writtennounauth" in post_id for post_id in ids)
    assert source.hidden_authors == 1
    item = await world.store.get(uri(A, "3mwrit00001"))
    assert item is not None and item.post.author.handle == "written-a.bsky.social"
    assert item.post.author.avatar_url and item.post.author.name == "Auteur A (écrit)"
    assert all(post.network == "bluesky" for post in world.sink.offered)
    # Profiles are read in batches of at most 25, and each author once.
    assert all(len(call) <= 25 for call in world.appview.calls)
    asked = [did for call in world.appview.calls for did in call]
    assert len(asked) == len(set(asked))


async def test_reposts_count_updates_edit_deletes_retract(world: World) -> None:
    """Two reposts count toward their original, an update is an edit of it, and a deleted
    post leaves the queue."""
    source = world.source()
    await source.start()
    await asyncio.wait_for(world.jetstream.wait_connects(1), TIMEOUT)
    lines = written()
    world.jetstream.publish(lines)
    await drained(source, wanted(lines))
    await world.sink.pipeline.settled()
    original = await world.store.get(uri(A, "3mwrit00001"))
    assert original is not None and original.shares == 2
    edits = [p for p in world.sink.offered if p.edit_of == uri(A, "3mwrit00001")]
    assert len(edits) == 1 and "en direct" in edits[0].text
    assert world.sink.retracted == [uri(B, "3mwrit00002")]
    deleted = await world.store.get(uri(B, "3mwrit00002"))
    assert deleted is None or deleted.status is Status.REJECTED
    labelled = await world.store.get(uri(A, "3mwrit00007"))
    assert labelled is not None and labelled.post.possibly_sensitive


async def test_a_dropped_connection_loses_nothing_and_repeats_nothing(world: World) -> None:
    """Killed every 7 events, the client resumes a few seconds back, and every event is
    handled exactly once."""
    world.jetstream.drop_after = 7
    lines = written()
    world.jetstream.store(lines)
    first = orjson.loads(lines[0])["time_us"]
    await world.store.set_cursor("bluesky", "time_us", str(first - 1))
    source = world.source(rewind_seconds=0.003)  # 3 ms: the written events are 1 ms apart
    await source.start()
    health = await drained(source, wanted(lines), lines[-1])
    await world.sink.pipeline.settled()
    assert health["reconnects"] >= 2
    originals = [p.id for p in world.sink.offered if p.kind.value != "retweet"]
    assert len(originals) == len(set(originals))
    reposts = [p.id for p in world.sink.offered if p.kind.value == "retweet"]
    assert len(reposts) == 2 == len(set(reposts))
    assert len(originals) == 14  # 15 matched posts and one update, minus the hidden author's
    # The client asked each reconnection for a cursor a little before what it had handled.
    cursors = [r for r in world.jetstream.requests if "cursor=" in r]
    assert len(cursors) == world.jetstream.connects


async def test_a_restart_resumes_from_the_saved_cursor(world: World) -> None:
    """A new source reads the saved time_us, replays only from a few seconds before, and
    links reposts, updates and deletes to the posts queued before the restart."""
    source = world.source()
    await source.start()
    await asyncio.wait_for(world.jetstream.wait_connects(1), TIMEOUT)
    lines = written()
    world.jetstream.publish(lines[:10])
    await drained(source, wanted(lines[:10]))
    await source.stop()
    saved = await world.store.get_cursor("bluesky", "time_us")
    assert saved == str(orjson.loads(lines[9])["time_us"])
    world.jetstream.store(lines[10:])  # arrives while the source is down
    again = world.source(rewind_seconds=0.0025)
    await again.start()
    await drained(again, wanted(lines[8:]), lines[-1])
    await world.sink.pipeline.settled()
    assert f"cursor={int(saved) - 2500}" in world.jetstream.requests[-1]
    originals = {p.id for p in world.sink.offered if p.kind.value != "retweet"}
    assert uri(A, "3mwrit00010") in originals and uri(B, "3mwrit00011") in originals
    # The few seconds replayed after a restart are offered again; the queue holds each
    # post once (a post id already queued is not queued again).
    queued = await world.store.get_many(sorted(originals))
    assert set(queued) == originals
    # Posts matched before the restart are linked to what comes after it: two reposts
    # count, the update is an edit, the delete retracts.
    first = await world.store.get(uri(A, "3mwrit00001"))
    assert first is not None and first.shares == 2
    assert [p.edit_of for p in world.sink.offered if p.edit_of] == [uri(A, "3mwrit00001")]
    assert world.sink.retracted == [uri(B, "3mwrit00002")]


async def test_frames_are_compressed_with_jetstreams_dictionary(world: World) -> None:
    """By default the client asks for compress=true and reads the zstd frames the host makes
    with Jetstream's published dictionary."""
    source = world.source()
    assert source.compress
    await source.start()
    await asyncio.wait_for(world.jetstream.wait_connects(1), TIMEOUT)
    lines = written()
    world.jetstream.publish(lines)
    await drained(source, wanted(lines))
    assert "compress=true" in world.jetstream.requests[-1]
    assert uri(A, "3mwrit00001") in [p.id for p in world.sink.offered]
    assert source.health()["hosts"][source.host]["malformed"] == 0


async def test_uncompressed_when_compression_is_off(world: World) -> None:
    """With compression off the client does not ask for it and reads plain JSON."""
    source = world.source(compress=False)
    assert not source.compress
    await source.start()
    await asyncio.wait_for(world.jetstream.wait_connects(1), TIMEOUT)
    lines = written()
    world.jetstream.publish(lines)
    await drained(source, wanted(lines))
    assert "compress" not in world.jetstream.requests[-1]
    assert uri(A, "3mwrit00001") in [p.id for p in world.sink.offered]


async def test_a_host_with_a_dictionary_of_its_own(tmp_path: Path) -> None:
    """A Jetstream host compressing with another dictionary is read once that dictionary is
    set (HASHWALL_BLUESKY_ZSTD_DICTIONARY); with Jetstream's, its frames are malformed."""
    other = zstandard.train_dictionary(8192, list(corpus() * 4)).as_bytes()
    async with world_at(tmp_path, other) as world:
        wrong = world.source(dictionary=None)
        await wrong.start()
        await asyncio.wait_for(world.jetstream.wait_connects(1), TIMEOUT)
        first = corpus()[:20]
        assert wanted(first) > 0
        world.jetstream.publish(first)
        await wrong.wait_for(
            lambda h: h["hosts"][wrong.host]["malformed"] >= wanted(first), TIMEOUT)
        assert world.sink.offered == []
        await wrong.stop()
        source = world.source()
        await source.start()
        await asyncio.wait_for(world.jetstream.wait_connects(2), TIMEOUT)
        lines = written()
        world.jetstream.publish(lines)
        await drained(source, wanted(lines), lines[-1])
        assert source.health()["hosts"][source.host]["malformed"] == 0
        assert uri(A, "3mwrit00001") in [p.id for p in world.sink.offered]


async def test_a_failing_appview_never_slows_the_stream(world: World) -> None:
    """While the AppView fails, the stream is read on; each post waits (bounded) and is then
    queued with the handle of its DID document."""
    world.appview.failing = True
    source = world.source(profile_wait=0.5)
    await source.start()
    await asyncio.wait_for(world.jetstream.wait_connects(1), TIMEOUT)
    lines = corpus() + written()
    world.jetstream.publish(lines)
    health = await source.wait_for(
        lambda h: h["hosts"][source.host]["events_seen"] >= wanted(lines), TIMEOUT)
    assert health["profiles"]["waiting_posts"] > 0  # the stream did not wait for them
    await drained(source, wanted(lines))
    await world.sink.pipeline.settled()
    item = await world.store.get(uri(A, "3mwrit00001"))
    assert item is not None and item.post.author.handle == "written-a.bsky.social"
    assert source.health()["profiles"]["appview_failures"] >= 1


async def test_health_per_host_and_failover(world: World) -> None:
    """An unreachable first host fails over to the next; /healthz fields per host."""
    source = world.source(hosts=("ws://127.0.0.1:9", world.jetstream.url))
    await source.start()
    await asyncio.wait_for(world.jetstream.wait_connects(1), TIMEOUT)
    lines = written()
    world.jetstream.publish(lines)
    health = await drained(source, wanted(lines))
    host = health["hosts"][world.jetstream.url]
    assert host["connected"] and host["events_seen"] == wanted(lines)
    assert host["events_matched"] > 0 and host["events_per_second"] > 0
    assert host["lag_seconds"] is not None
    assert health["hosts"]["ws://127.0.0.1:9"]["last_error"]
    assert health["profiles"]["cache_misses"] > 0
    assert health["metrics"]["bluesky_events_seen"] == wanted(lines)
    # A later post by a known author takes its profile from the cache.
    again = orjson.loads(lines[0])
    again["time_us"] += 10**6
    again["commit"]["rkey"] = "3mwritlater"
    world.jetstream.publish([orjson.dumps(again)])
    health = await drained(source, wanted(lines) + 1)
    assert health["profiles"]["cache_hits"] >= 1
    assert uri(A, "3mwritlater") in [p.id for p in world.sink.offered]


async def test_a_post_queued_without_its_profile_is_taken_back_if_its_author_is_hidden(
        world: World) -> None:
    """A slow AppView: the post is queued with its DID document's handle after the bounded
    wait; when the profile arrives saying `!no-unauthenticated`, the post is retracted."""
    world.appview.released.clear()  # every getProfiles call waits
    source = world.source(profile_wait=0.2)
    await source.start()
    await asyncio.wait_for(world.jetstream.wait_connects(1), TIMEOUT)
    hidden = [line for line in written() if b"writtennounauth" in line]
    world.jetstream.publish(hidden)
    await drained(source, 1, hidden[-1])
    await world.sink.pipeline.settled()
    post_id = "bluesky:at://did:plc:writtennounauthxxxxx/app.bsky.feed.post/3mwrit00017"
    assert [p.id for p in world.sink.offered] == [post_id]
    assert world.sink.offered[0].author.handle == "written-hidden.bsky.social"  # DID document
    world.appview.released.set()
    await source.wait_for(lambda h: h["profiles"]["hidden_authors"] == 1, TIMEOUT)
    await world.sink.pipeline.settled()
    assert world.sink.retracted == [post_id]
    item = await world.store.get(post_id)
    assert item is not None and item.status is Status.REJECTED
