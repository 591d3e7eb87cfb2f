"""A retweet counts toward its original: queued once, counted once, its count on the screens."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from moderation.post import Kind, Post, Status
from moderation.shares import plan_share, screen_shares
from tests.fake_x import make_item
from tests.fake_x.server import FakeXServer
from tests.moderation_helpers import console, of_type, wait_for
from tests.utils import (
    RunningServer,
    make_post,
    make_settings,
    moderator,
    recv,
    run_server,
    until,
    ws_client,
)

TOKEN = "shares-token"


def original(n: int, handle: str = "bob") -> Post:
    """A post that others retweet."""
    return make_post(n, text=f"la plénière commence #uemedef14 ({n})", handle=handle)


def retweet(n: int, of: Post, handle: str = "carol") -> Post:
    """Retweet number `n` of a post, as the X normaliser describes one."""
    return make_post(n, text=f"RT @{of.author.handle}: {of.text}", handle=handle,
                     kind=Kind.RETWEET, referenced=of)


def test_screen_counts_are_exact_below_ten_then_round_steps() -> None:
    """1–9 exactly, then rounded down to 10, 20, 50, 100, 200, 500, 1000…"""
    counts = [0, 1, 9, 10, 19, 20, 49, 50, 99, 100, 199, 200, 499, 500, 999, 1000, 4999, 5000]
    assert [screen_shares(n) for n in counts] == [
        0, 1, 9, 10, 10, 20, 20, 50, 50, 100, 100, 200, 200, 500, 500, 1000, 2000, 5000]
    changes = sum(screen_shares(n) != screen_shares(n - 1) for n in range(1, 5001))
    assert changes == 18  # what one screen hears of a post shared 5,000 times


def test_only_an_approved_posts_changed_screen_count_is_public() -> None:
    """Moderators hear of every share; screens only of an approved post's new rounded count."""
    assert plan_share("x:1", Status.PENDING, 2, 3) == [
        ("moderation", "queue.shares", {"id": "x:1", "shares": 3})]
    assert plan_share("x:1", Status.APPROVED, 10, 11) == [
        ("moderation", "queue.shares", {"id": "x:1", "shares": 11})]
    assert plan_share("x:1", Status.APPROVED, 19, 20)[1] == (
        "public", "post.shares", {"id": "x:1", "shares": 20})


async def test_a_retweet_queues_its_original_once_and_counts(server: RunningServer) -> None:
    """A retweet of an unknown post queues that post with 1 share; a second retweet makes 2;
    the same retweet again leaves 2; moderators see each count live and in /api/posts."""
    wall = server.wall
    async with console(server, "ana") as (ws, _):
        item = await wall.pipeline.ingest(retweet(101, original(1)))
        assert item is not None and (item.post.id, item.shares) == ("x:1", 1)
        added, _ = await wait_for(ws, of_type("queue.added"))
        assert added["item"]["post"]["id"] == "x:1" and added["item"]["post"]["kind"] == "original"
        counted, _ = await wait_for(ws, of_type("queue.shares"))
        assert (counted["id"], counted["shares"]) == ("x:1", 1)
        item = await wall.pipeline.ingest(retweet(102, original(1), handle="dave"))
        assert item is not None and item.shares == 2
        item = await wall.pipeline.ingest(retweet(101, original(1)))
        assert item is not None and item.shares == 2
        await wall.pipeline.ingest(make_post(2))
        counted, _ = await wait_for(ws, of_type("queue.shares"))
        sentinel = await recv(ws)
        # Had the replayed retweet counted again, its queue.shares would come before x:2.
        assert counted["shares"] == 2 and sentinel["type"] == "queue.added"
        assert sentinel["item"]["post"]["id"] == "x:2"
    assert await wall.store.get("x:101") is None and await wall.store.get("x:102") is None
    async with moderator(server) as http:
        response = await http.get("/api/posts?status=pending")
    assert [(i["post"]["id"], i["shares"]) for i in response.json()["items"]] == [
        ("x:1", 2), ("x:2", 0)]


async def test_with_policy_drop_retweets_are_ignored(store_url: str) -> None:
    """HASHWALL_RETWEET_POLICY=drop: a retweet queues nothing and counts nothing."""
    async with run_server(make_settings(store_url=store_url, retweet_policy="drop")) as server:
        store = server.wall.store
        assert await server.wall.pipeline.ingest(retweet(101, original(1))) is None
        for status in Status:
            assert await store.count(status) == 0
        assert [e.type for e in await store.events_after("moderation", 0)] == ["rules.changed"]
        assert await store.last_seq("public") == 0


async def test_an_approved_originals_count_reaches_screens(server: RunningServer) -> None:
    """Screens get an approved original's count live, with the post when it is approved later,
    in snapshots and from the HTTP API; a pending original's retweets send them nothing."""
    wall = server.wall
    async with ws_client(f"{server.ws_base}/ws") as ws:
        assert (await recv(ws))["shares"] == {}
        await wall.pipeline.ingest(retweet(101, original(1, handle="trusted")))
        shown, counted = await recv(ws), await recv(ws)
        assert shown["type"] == "post.shown" and shown["post"]["id"] == "x:1"
        assert counted == {"type": "post.shares", "seq": shown["seq"] + 1, "id": "x:1",
                           "shares": 1}
        await wall.pipeline.ingest(retweet(102, original(2)))  # pending: screens hear nothing
        await wall.pipeline.ingest(retweet(103, original(2)))
        await wall.pipeline.ingest(retweet(104, original(1, handle="trusted")))
        counted = await recv(ws)
        assert (counted["type"], counted["id"], counted["shares"]) == ("post.shares", "x:1", 2)
        async with moderator(server) as http:
            assert (await http.post("/api/posts/x:2/approve")).status_code == 200
        shown = await recv(ws)
        assert (shown["type"], shown["post"]["id"], shown["shares"]) == ("post.shown", "x:2", 2)
    async with ws_client(f"{server.ws_base}/ws") as late:
        snapshot = await recv(late)
    assert snapshot["shares"] == {"x:1": 2, "x:2": 2}
    async with moderator(server) as http:
        latest = (await http.get("/api/posts?status=approved")).json()
        older = (await http.get("/api/posts?status=approved&before=x:2")).json()
    assert latest["shares"] == {"x:1": 2, "x:2": 2}
    assert [p["id"] for p in older["posts"]] == ["x:1"] and older["shares"] == {"x:1": 2}


async def test_a_retweet_replayed_after_a_restart_counts_once(store_url: str) -> None:
    """The same retweet arriving again after a restart does not count twice."""
    settings = make_settings(store_url=store_url)
    async with run_server(settings) as server:
        item = await server.wall.pipeline.ingest(retweet(101, original(1)))
        assert item is not None and item.shares == 1
    async with run_server(settings) as server:
        item = await server.wall.pipeline.ingest(retweet(101, original(1)))
        assert item is not None and item.shares == 1
        item = await server.wall.pipeline.ingest(retweet(102, original(1)))
        assert item is not None and item.shares == 2
        assert await server.wall.store.count(Status.PENDING) == 1


def x_retweet(post_id: str, of: dict[str, Any], username: str) -> dict[str, Any]:
    """A stream item retweeting `of` (an item of make_item), hydrated as X sends it."""
    user = {"id": f"u{username}", "name": username.title(), "username": username,
            "verified": False}
    author = of["includes"]["users"][0]
    item = make_item(f"RT @{author['username']}: {of['data']['text']}", post_id=post_id,
                     author=user, referenced_tweets=[{"type": "retweeted",
                                                      "id": of["data"]["id"]}])
    item["includes"]["users"].append(author)
    item["includes"]["tweets"] = [of["data"]]
    return item


@pytest.fixture
async def x_wall(store_url: str) -> AsyncIterator[tuple[FakeXServer, RunningServer]]:
    """`serve` with the X ingester reading a fake X API v2 server."""
    fake = FakeXServer(bearer_token=TOKEN, keep_alive_interval=0.05)
    await asyncio.wait_for(fake.start(), 5)
    settings = make_settings(store_url=store_url, x_bearer_token=TOKEN, x_api_url=fake.url,
                             hashtags=["#uemedef14"])
    try:
        async with run_server(settings) as running:
            yield fake, running
    finally:
        await asyncio.wait_for(fake.stop(), 5)


async def test_retweets_from_the_x_stream_count_toward_their_original(
    x_wall: tuple[FakeXServer, RunningServer],
) -> None:
    """Through tweepy and the fake X server: two retweets of a post that never came queue it
    once with 2 shares, and neither retweet is queued itself."""
    fake, running = x_wall
    x = next(s for s in running.wall.sources if s.name == "x")
    await until(lambda: x.health()["connected"] is True)
    first = make_item("Ouverture de la plénière #uemedef14", post_id="1600000000000000001")
    fake.push(x_retweet("1600000000000000002", first, "carol"))
    fake.push(x_retweet("1600000000000000003", first, "dave"))
    await until(lambda: x.health()["posts_received"] == 2)
    item = await running.wall.store.get("x:1600000000000000001")
    assert item is not None and item.shares == 2 and item.post.text == first["data"]["text"]
    assert await running.wall.store.count(Status.PENDING) == 1


async def test_a_store_file_from_before_share_counts_gains_them(store_url: str) -> None:
    """A SQLite file written before share counts existed opens, keeps its posts and counts."""
    import sqlite3

    from moderation.queue import Verdict
    from moderation.stores.sqlite import SQLiteStore

    store = SQLiteStore(store_url)
    await store.open()
    await store.submit(original(1), Verdict(Status.APPROVED, "trusted_author"))
    await store.close()
    path = store_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:  # what an older release left on disk
        db.execute("ALTER TABLE posts DROP COLUMN shares")
        db.execute("DROP TABLE shares")
    store = SQLiteStore(store_url)
    await store.open()
    try:
        item = await store.get("x:1")
        assert item is not None and item.status is Status.APPROVED and item.shares == 0
        assert await store.share("x:101", "x:1") == 1
        assert (await store.snapshot(5)).shares == {"x:1": 1}
    finally:
        await store.close()
