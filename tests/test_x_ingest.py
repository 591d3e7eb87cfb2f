"""The X source, through the real tweepy client, against the fake X API v2 server."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

import pytest

from moderation.post import Kind, Post
from server.sources.base import Backoff
from server.sources.x.check import check
from server.sources.x.client import EXPANSIONS, MEDIA_FIELDS, TWEET_FIELDS, USER_FIELDS
from server.sources.x.rules import XApiError, XAuthError, build_rules, normalise_hashtags
from server.sources.x.source import RecentIds
from server.sources.x.source import XSource as XIngester
from tests.fake_x import TOKEN, fixture_lines, make_item, recorded_stream_items
from tests.fake_x.server import FakeXServer

HASHTAGS = ["#uemedef14", "Paroles2CEO"]
RULE = "(#uemedef14 OR #Paroles2CEO)"
SCALE = 0.0001  # 60 s of documented backoff become 6 ms


class Collected:
    """A sink that keeps the posts it receives and can be told to fail."""

    def __init__(self) -> None:
        self.posts: list[Post] = []
        self.fail_on: set[str] = set()

    async def retract(self, post_id: str, reason: str) -> None:
        raise AssertionError(f"X never retracts, got {post_id}")

    async def offer(self, post: Post) -> None:
        if post.id in self.fail_on:
            self.fail_on.discard(post.id)
            raise RuntimeError(f"store unavailable for {post.id}")
        self.posts.append(post)

    @property
    def ids(self) -> list[str]:
        return [p.id for p in self.posts]


@pytest.fixture
def sink() -> Collected:
    return Collected()


@pytest.fixture
async def make_ingester(
    fake_x: FakeXServer, sink: Collected
) -> AsyncIterator[Callable[..., XIngester]]:
    made: list[XIngester] = []

    def make(**kwargs: Any) -> XIngester:
        options: dict[str, Any] = {
            "bearer_token": TOKEN,
            "api_url": fake_x.url,
            "hashtags": HASHTAGS,
            "sink": sink,
            "backoff_scale": SCALE,
            **kwargs,
        }
        ingester = XIngester(**options)
        made.append(ingester)
        return ingester

    yield make
    for ingester in made:
        await asyncio.wait_for(ingester.stop(), 5)


async def started(ingester: XIngester, state: str = "connected") -> dict[str, Any]:
    """Start an ingester and wait for a state."""
    await asyncio.wait_for(ingester.start(), 5)
    return await ingester.wait_for(lambda h: h["state"] == state, 5)


def post_item(number: int, text: str = "Bonjour #uemedef14", **fields: Any) -> dict[str, Any]:
    """A hand-written item that matches the wall's rule, with a distinct id."""
    return make_item(text, post_id=str(1_600_000_000_000_000_000 + number), **fields)


def waits(ingester: XIngester) -> list[float]:
    """The nominal backoff waits the ingester went through, in order."""
    return [h["retry_in"] for h in ingester.history if h["state"] == "backing_off"]


# -- rules -------------------------------------------------------------------------------


async def test_rules_sync_adds_missing_deletes_stale_and_keeps_others(
    fake_x: FakeXServer, make_ingester: Callable[..., XIngester]
) -> None:
    """At start the wall's rule is added, its stale rules deleted, other apps' rules kept."""
    foreign = fake_x.add_rule("cats has:media", "other-app")
    untagged = fake_x.add_rule("dogs")
    lookalike = fake_x.add_rule("#old", "hashwallet")
    stale = fake_x.add_rule("#uemedef13", "hashwall:1")
    health = await started(make_ingester())
    values = {r["value"]: (rid, r.get("tag")) for rid, r in fake_x.rules.items()}
    assert set(values) == {"cats has:media", "dogs", "#old", RULE}
    assert values[RULE][1] == "hashwall:1"
    assert {foreign, untagged, lookalike} <= set(fake_x.rules) and stale not in fake_x.rules
    add, delete = [r.body for r in fake_x.rules_requests("POST")]
    assert add == {"add": [{"value": RULE, "tag": "hashwall:1"}]}
    assert delete == {"delete": {"ids": [stale]}}
    assert sorted(health["rules"]) == sorted(["cats has:media", "dogs", "#old", RULE])


async def test_rules_already_in_place_are_left_alone(
    fake_x: FakeXServer, make_ingester: Callable[..., XIngester]
) -> None:
    """A restart with the same hashtags changes no rule."""
    fake_x.add_rule(RULE, "hashwall:1")
    await started(make_ingester())
    assert fake_x.rules_requests("POST") == []
    assert len(fake_x.rules_requests("GET")) == 1


def test_rule_values_group_or_before_and() -> None:
    """Hashtags are ORed inside parentheses, so a suffix applies to every one of them."""
    assert [r.value for r in build_rules(HASHTAGS)] == [RULE]
    assert [r.value for r in build_rules(HASHTAGS, exclude_retweets=True)] == [
        "(#uemedef14 OR #Paroles2CEO) -is:retweet"
    ]
    assert [r.value for r in build_rules(["#uemedef14"])] == ["#uemedef14"]
    assert normalise_hashtags(["#A", "a", " #b ", ""]) == ["A", "b"]


def test_long_hashtag_lists_split_into_rules_within_the_limit() -> None:
    """Many hashtags become several rules, each within the length limit, tagged in order."""
    tags = [f"tag{n:03d}" for n in range(100)]
    rules = build_rules(tags, max_length=120)
    assert all(len(r.value) <= 120 for r in rules)
    assert [r.tag for r in rules] == [f"hashwall:{n}" for n in range(1, len(rules) + 1)]
    joined = " ".join(r.value for r in rules)
    assert all(f"#{t}" in joined for t in tags)


@pytest.mark.parametrize("hashtags", [["#foo-bar"], ["#"], []])
def test_unusable_hashtags_are_refused_at_construction(
    hashtags: list[str], sink: Collected
) -> None:
    """A hashtag X cannot match, or no hashtag at all, is a clear error before any request."""
    with pytest.raises(ValueError, match="Expected"):
        XIngester(TOKEN, "http://127.0.0.1:9", hashtags, sink)


async def test_retweets_excluded_by_the_rule_never_arrive(
    fake_x: FakeXServer, make_ingester: Callable[..., XIngester], sink: Collected
) -> None:
    """With retweets excluded, a retweet of either hashtag is filtered out by the rule itself."""
    ingester = make_ingester(exclude_retweets=True)
    await started(ingester)
    assert next(iter(fake_x.rules.values()))["value"] == f"{RULE} -is:retweet"
    retweet = post_item(
        1, "RT @bob: #uemedef14", referenced_tweets=[{"type": "retweeted", "id": "5"}]
    )
    fake_x.push(retweet)
    fake_x.push(post_item(2, "Original #Paroles2CEO"))
    # Items stream in order: had the retweet been sent, it would have arrived first.
    await ingester.wait_for(lambda h: h["posts_received"] == 1, 5)
    assert sink.ids == ["x:1600000000000000002"]
    assert fake_x.items_sent == 1


async def test_invalid_rule_fails_with_the_reason(
    sink: Collected,
) -> None:
    """A rule the API refuses stops the ingester with X's reason; no stream is opened."""
    async with FakeXServer(bearer_token=TOKEN, max_rule_length=20) as fake:
        ingester = XIngester(TOKEN, fake.url, HASHTAGS, sink, backoff_scale=SCALE)
        health = await started(ingester, "failed")
        assert "X refused the stream rule" in health["last_error"]
        assert "Rule length exceeds the maximum of 20" in health["last_error"]
        assert not ingester.running
        assert fake.stream_requests() == []
        await asyncio.wait_for(ingester.stop(), 5)


# -- posts -------------------------------------------------------------------------------


async def test_requests_the_fields_a_wall_needs(
    fake_x: FakeXServer, make_ingester: Callable[..., XIngester], sink: Collected
) -> None:
    """The stream request names the wall's expansions and fields, and posts arrive complete."""
    ingester = make_ingester()
    await started(ingester)
    (request,) = fake_x.stream_requests()
    assert request.query == {
        "expansions": ",".join(EXPANSIONS),
        "tweet.fields": ",".join(TWEET_FIELDS),
        "user.fields": ",".join(USER_FIELDS),
        "media.fields": ",".join(MEDIA_FIELDS),
    }
    quoted = make_item(
        "Le programme #uemedef14",
        post_id="1500000000000000009",
        author={"id": "8", "name": "MEDEF", "username": "medef", "verified": True},
    )["data"]
    item = post_item(
        3,
        "Long &amp; riche #uemedef14 …",
        note_tweet={"text": "Long &amp; riche débat #uemedef14 " + "x" * 300},
        attachments={"media_keys": ["3_1"]},
        referenced_tweets=[{"type": "quoted", "id": quoted["id"]}],
        possibly_sensitive=True,
        edit_history_tweet_ids=["1600000000000000000", "1600000000000000003"],
    )
    item["includes"]["media"] = [
        {
            "media_key": "3_1",
            "type": "photo",
            "url": "https://pbs.twimg.com/media/a.jpg",
            "alt_text": "La salle",
            "width": 1200,
            "height": 800,
            "public_metrics": {},
        }
    ]
    item["includes"]["tweets"] = [quoted]
    item["includes"]["users"].append(
        {"id": "8", "name": "MEDEF", "username": "medef", "verified": True}
    )
    fake_x.push(item)
    await ingester.wait_for(lambda h: h["posts_received"] == 1, 5)
    (post,) = sink.posts
    assert post.text.startswith("Long & riche débat #uemedef14 xxx")
    assert post.author.avatar_url == "https://pbs.twimg.com/profile_images/7/ada_normal.jpg"
    assert post.media[0].alt_text == "La salle" and post.media[0].width == 1200
    assert post.kind is Kind.QUOTE
    assert post.referenced is not None and post.referenced.author.verified is True
    assert post.possibly_sensitive is True
    assert post.edit_of == "x:1600000000000000000"
    assert post.extra["matching_rules"] == [{"id": next(iter(fake_x.rules)), "tag": "hashwall:1"}]


async def test_recorded_stream_is_normalised_and_a_broken_line_skipped(
    fake_x: FakeXServer, make_ingester: Callable[..., XIngester], sink: Collected
) -> None:
    """The real recording streams through; its cut-off last line is skipped, the stream goes on."""
    ingester = make_ingester()
    await started(ingester)
    for item in recorded_stream_items():
        fake_x.push(item)
    fake_x.push_raw(fixture_lines("streaming_output_with_error.jsonl")[-1].encode() + b"\r\n")
    fake_x.push(post_item(4))
    health = await ingester.wait_for(lambda h: h["posts_received"] == 8, 5)
    assert sink.ids[:7] == [f"x:{i['data']['id']}" for i in recorded_stream_items()]
    assert sink.posts[0].extra["matching_rules"] == [{"id": "1377649934414049282", "tag": None}]
    assert health["malformed_items"] == 1
    assert "not JSON" in health["last_error"]
    assert health["reconnects"] == 0


async def test_lines_split_across_chunks_are_reassembled(
    fake_x: FakeXServer, make_ingester: Callable[..., XIngester], sink: Collected
) -> None:
    """An item cut across two chunks arrives whole."""
    ingester = make_ingester()
    await started(ingester)
    line = fake_x.render(post_item(5), {"expansions": ("author_id",)})
    assert line is not None
    fake_x.push_raw(line[:40])
    fake_x.push_raw(line[40:])
    await ingester.wait_for(lambda h: h["posts_received"] == 1, 5)
    assert sink.ids == ["x:1600000000000000005"]


async def test_sink_exception_never_ends_the_stream(
    fake_x: FakeXServer, make_ingester: Callable[..., XIngester], sink: Collected
) -> None:
    """A failing sink is logged; the next posts arrive on the same connection."""
    ingester = make_ingester()
    await started(ingester)
    sink.fail_on.add("x:1600000000000000006")
    fake_x.push(post_item(6))
    fake_x.push(post_item(7))
    health = await ingester.wait_for(lambda h: h["posts_received"] == 1, 5)
    assert sink.ids == ["x:1600000000000000007"]
    assert "sink failed on x:1600000000000000006" in health["last_error"]
    assert health["reconnects"] == 0 and health["connected"]
    # The failed post was not marked as seen: a replay delivers it.
    fake_x.push(post_item(6))
    await ingester.wait_for(lambda h: h["posts_received"] == 2, 5)
    assert sink.ids == ["x:1600000000000000007", "x:1600000000000000006"]


async def test_error_items_and_partial_errors_do_not_end_the_stream(
    fake_x: FakeXServer, make_ingester: Callable[..., XIngester], sink: Collected
) -> None:
    """An error-only item is reported; a post with partial errors still arrives."""
    ingester = make_ingester()
    await started(ingester)
    fake_x.push_raw(b'{"errors":[{"title":"ConnectionException","detail":"odd"}]}\r\n')
    fake_x.push(
        post_item(8, "RT @x: #uemedef14", referenced_tweets=[{"type": "retweeted", "id": "404"}])
    )
    health = await ingester.wait_for(lambda h: h["posts_received"] == 1, 5)
    assert sink.posts[0].kind is Kind.RETWEET and sink.posts[0].referenced is None
    assert "X sent errors" in health["last_error"]
    assert health["reconnects"] == 0


# -- failures and reconnects -------------------------------------------------------------


async def test_handling_exception_never_ends_the_stream(
    fake_x: FakeXServer, make_ingester: Callable[..., XIngester], sink: Collected
) -> None:
    """An exception raised while handling a line is logged; the next lines still arrive."""

    class Exploding(XIngester):
        async def handle(self, key: str, item: Any) -> None:
            if b"1600000000000000020" in item:
                raise ValueError("a bug in a handler")
            await super().handle(key, item)

    ingester = Exploding(TOKEN, fake_x.url, HASHTAGS, sink, backoff_scale=SCALE)
    try:
        await started(ingester)
        fake_x.push(post_item(20))
        fake_x.push(post_item(21))
        health = await ingester.wait_for(lambda h: h["posts_received"] == 1, 5)
        assert sink.ids == ["x:1600000000000000021"] and health["reconnects"] == 0
        assert "a bug in a handler" in health["last_error"]
    finally:
        await asyncio.wait_for(ingester.stop(), 5)


async def test_run_returns_the_health_when_the_ingester_fails(
    make_ingester: Callable[..., XIngester],
) -> None:
    """run() (the ingest process) returns once the ingester has failed, with the reason."""
    health = await asyncio.wait_for(make_ingester(bearer_token="wrong").run(), 5)
    assert health["state"] == "failed" and "HTTP 401" in health["last_error"]


async def test_wrong_token_fails_at_once_without_retrying(
    fake_x: FakeXServer, make_ingester: Callable[..., XIngester]
) -> None:
    """A refused token stops the ingester with a clear message after one request."""
    ingester = make_ingester(bearer_token="wrong")
    health = await started(ingester, "failed")
    assert "X refused the bearer token (HTTP 401 Unauthorized)" in health["last_error"]
    assert "X_BEARER_TOKEN" in health["last_error"]
    assert not health["connected"] and not ingester.running
    assert len(fake_x.requests) == 1


async def test_token_revoked_mid_stream_fails_on_reconnect(
    fake_x: FakeXServer, make_ingester: Callable[..., XIngester]
) -> None:
    """A 401 on a reconnect stops for good instead of retrying forever."""
    ingester = make_ingester()
    await started(ingester)
    fake_x.bearer_token = "rotated"
    fake_x.disconnect()
    health = await ingester.wait_for(lambda h: h["state"] == "failed", 5)
    assert "HTTP 401" in health["last_error"]
    assert not ingester.running
    assert [r.status for r in fake_x.stream_requests()] == [200, 401]


async def test_forbidden_app_fails_with_x_explanation(
    fake_x: FakeXServer, make_ingester: Callable[..., XIngester]
) -> None:
    """A 403 stops the ingester and shows X's explanation."""
    fake_x.forbidden = True
    health = await started(make_ingester(), "failed")
    assert "HTTP 403 Client Forbidden" in health["last_error"]
    assert "attached to a Project" in health["last_error"]


async def test_403_on_the_stream_fails(
    fake_x: FakeXServer, make_ingester: Callable[..., XIngester]
) -> None:
    """A 403 answer to the stream connection stops the ingester too."""
    fake_x.fail_next_connections(403)
    health = await started(make_ingester(), "failed")
    assert "HTTP 403" in health["last_error"]
    assert len(fake_x.stream_requests()) == 1


async def test_409_resyncs_rules_then_reconnects(
    fake_x: FakeXServer, make_ingester: Callable[..., XIngester]
) -> None:
    """When the rules vanish, the 409 on reconnect makes the ingester put them back."""
    ingester = make_ingester()
    await started(ingester)
    fake_x.rules.clear()
    fake_x.disconnect()
    health = await ingester.wait_for(lambda h: h["reconnects"] == 1 and h["connected"], 5)
    assert [r["value"] for r in fake_x.rules.values()] == [RULE]
    assert [r.status for r in fake_x.stream_requests()] == [200, 409, 200]
    assert len(fake_x.rules_requests("POST")) == 2
    assert any("HTTP 409 ConnectionException" in (h["error"] or "") for h in ingester.history)
    assert health["state"] == "connected"


async def test_429_backs_off_from_60_seconds_doubling(
    fake_x: FakeXServer, make_ingester: Callable[..., XIngester]
) -> None:
    """Two 429 answers wait 60 s then 120 s (scaled down here) before connecting."""
    fake_x.fail_next_connections(429, times=2)
    ingester = make_ingester()
    await started(ingester)
    assert waits(ingester) == [60.0, 120.0]
    assert [r.status for r in fake_x.stream_requests()] == [429, 429, 200]


async def test_http_errors_back_off_from_5_seconds_doubling(
    fake_x: FakeXServer, make_ingester: Callable[..., XIngester]
) -> None:
    """Server errors wait 5, 10, 20 s; a connection that delivers resets the backoff."""
    fake_x.fail_next_connections(503, times=3)
    ingester = make_ingester()
    await started(ingester)
    assert waits(ingester) == [5.0, 10.0, 20.0]
    await ingester.wait_for(lambda h: h["last_keep_alive"] is not None, 5)
    fake_x.fail_next_connections(500)
    fake_x.disconnect()
    await ingester.wait_for(lambda h: h["reconnects"] == 1 and h["connected"], 5)
    assert waits(ingester) == [5.0, 10.0, 20.0, 0.0, 5.0]


async def test_network_errors_back_off_linearly(sink: Collected) -> None:
    """An unreachable API is retried after 0, 0.25, 0.5, 0.75 s ... without failing."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ingester = XIngester(TOKEN, f"http://127.0.0.1:{port}", HASHTAGS, sink, backoff_scale=SCALE)
    await asyncio.wait_for(ingester.start(), 5)
    health = await ingester.wait_for(lambda _: len(waits(ingester)) >= 5, 5)
    await asyncio.wait_for(ingester.stop(), 5)
    assert waits(ingester)[:5] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert health["state"] == "backing_off" and "Cannot connect" in health["last_error"]
    assert ingester.health()["state"] == "stopped"


def test_backoff_caps_and_reset() -> None:
    """Network waits cap at 16 s, HTTP and 429 waits at 320 s; reset starts over."""
    backoff = Backoff()
    assert [backoff.network() for _ in range(70)][-3:] == [16.0, 16.0, 16.0]
    assert [backoff.http_error() for _ in range(8)] == [5, 10, 20, 40, 80, 160, 320, 320]
    backoff.reset()
    assert [backoff.rate_limited() for _ in range(5)] == [60, 120, 240, 320, 320]
    backoff.reset()
    assert backoff.http_error() == 5 and backoff.rate_limited() == 60


async def test_silent_stream_is_dead_and_reconnected(
    fake_x: FakeXServer, make_ingester: Callable[..., XIngester], sink: Collected
) -> None:
    """A connection silent longer than the stall timeout is dropped and reopened."""
    ingester = make_ingester(stall_timeout=0.5)
    await started(ingester)
    fake_x.stall()
    await ingester.wait_for(lambda h: h["reconnects"] >= 1 and h["connected"], 5)
    assert any("stalled" in (h["error"] or "") for h in ingester.history)
    fake_x.push(post_item(9))
    await ingester.wait_for(lambda h: h["posts_received"] == 1, 5)


async def test_operational_disconnect_reconnects_without_duplicates(
    fake_x: FakeXServer, make_ingester: Callable[..., XIngester], sink: Collected
) -> None:
    """After an operational disconnect the ingester reconnects; replayed posts are dropped."""
    ingester = make_ingester()
    await started(ingester)
    fake_x.push(post_item(10))
    fake_x.push(post_item(11))
    await ingester.wait_for(lambda h: h["posts_received"] == 2, 5)
    fake_x.push_operational_disconnect()
    await ingester.wait_for(lambda h: h["reconnects"] == 1 and h["connected"], 5)
    for number in (10, 11, 12):
        fake_x.push(post_item(number))
    health = await ingester.wait_for(lambda h: h["posts_received"] == 3, 5)
    assert sink.ids == [f"x:16000000000000000{n}" for n in (10, 11, 12)]
    assert health["duplicates_dropped"] == 2
    assert any("operational-disconnect" in (h["error"] or "") for h in ingester.history)


async def test_abrupt_disconnect_reconnects(
    fake_x: FakeXServer, make_ingester: Callable[..., XIngester], sink: Collected
) -> None:
    """A connection dropped mid-stream is reopened at once and posts keep coming."""
    ingester = make_ingester()
    await started(ingester)
    fake_x.disconnect()
    await ingester.wait_for(lambda h: h["reconnects"] == 1 and h["connected"], 5)
    fake_x.push(post_item(13))
    await ingester.wait_for(lambda h: h["posts_received"] == 1, 5)
    assert waits(ingester) == [0.0]
    assert fake_x.open_connections == 1


def test_recent_ids_forget_the_oldest() -> None:
    """The dedupe memory is bounded: beyond its size the oldest ids are forgotten."""
    recent = RecentIds(3)
    for n in range(5):
        recent.add(f"x:{n}")
    assert len(recent) == 3
    assert "x:0" not in recent and "x:1" not in recent and "x:4" in recent


# -- health, stop, check -----------------------------------------------------------------


async def test_health_reports_the_stream(
    fake_x: FakeXServer, make_ingester: Callable[..., XIngester]
) -> None:
    """health() says connected, when the last keep-alive came, reconnects and posts received."""
    ingester = make_ingester()
    assert ingester.health()["state"] == "stopped"
    await started(ingester)
    health = await ingester.wait_for(lambda h: h["last_keep_alive"] is not None, 5)
    assert health["connected"] is True
    assert datetime.fromisoformat(health["last_keep_alive"]).tzinfo is not None
    assert health["reconnects"] == 0 and health["posts_received"] == 0
    assert health["last_error"] is None and health["source"] == "x"
    await asyncio.wait_for(ingester.stop(), 5)
    health = ingester.health()
    assert health["state"] == "stopped" and health["connected"] is False


async def test_stop_during_backoff_and_restart(
    fake_x: FakeXServer, make_ingester: Callable[..., XIngester]
) -> None:
    """stop() ends a long backoff at once; stop twice is fine; start again reconnects."""
    fake_x.fail_next_connections(503)
    ingester = make_ingester(backoff_scale=1.0)
    await asyncio.wait_for(ingester.start(), 5)
    await ingester.wait_for(lambda h: h["state"] == "backing_off", 5)
    await asyncio.wait_for(ingester.stop(), 1)
    await asyncio.wait_for(ingester.stop(), 1)
    assert ingester.health()["state"] == "stopped" and not ingester.running
    await started(ingester)
    assert [r.status for r in fake_x.stream_requests()] == [503, 200]


async def test_stop_closes_the_connection(
    fake_x: FakeXServer, make_ingester: Callable[..., XIngester]
) -> None:
    """After stop() the fake sees no open stream connection."""
    ingester = make_ingester()
    await started(ingester)
    await fake_x.wait_until(lambda: fake_x.open_connections == 1)
    await asyncio.wait_for(ingester.stop(), 5)
    await fake_x.wait_until(lambda: fake_x.open_connections == 0)


async def test_check_lists_the_active_rules(fake_x: FakeXServer) -> None:
    """check() confirms the token works and lists every active rule."""
    rule_id = fake_x.add_rule(RULE, "hashwall:1")
    result = await asyncio.wait_for(check(TOKEN, fake_x.url + "/"), 5)
    assert result == {
        "ok": True,
        "api_url": fake_x.url,
        "rules": [{"id": rule_id, "value": RULE, "tag": "hashwall:1"}],
    }


async def test_check_with_a_bad_token_raises(fake_x: FakeXServer) -> None:
    """check() raises XAuthError with a clear message for a refused token."""
    with pytest.raises(XAuthError, match="X refused the bearer token"):
        await asyncio.wait_for(check("wrong", fake_x.url), 5)


async def test_check_an_unreachable_api_raises() -> None:
    """check() raises XApiError naming the address it could not reach."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    with pytest.raises(XApiError, match="Could not reach the X API at"):
        await asyncio.wait_for(check(TOKEN, url), 5)
