"""The fake X API v2 server speaks the real protocol, checked against the recorded payloads."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from server.sources.x.client import XStreamingClient
from tests.fake_x import TOKEN, make_item, recorded_stream_items
from tests.fake_x.server import (
    NO_RULES,
    OPERATIONAL_DISCONNECT,
    TOO_MANY_CONNECTIONS,
    UNAUTHORIZED,
    FakeXServer,
    RuleSyntaxError,
    check_rule_syntax,
    rule_matches,
)

AUTH = {"Authorization": f"Bearer {TOKEN}"}
STREAM = "/2/tweets/search/stream"
RULES = "/2/tweets/search/stream/rules"
# What twarc asked for when it recorded the fixtures (from the recording's `__twarc.url`).
TWARC_PARAMS = {
    "expansions": "author_id,in_reply_to_user_id,referenced_tweets.id,"
    "referenced_tweets.id.author_id,entities.mentions.username,attachments.poll_ids,"
    "attachments.media_keys,geo.place_id",
    "tweet.fields": "attachments,author_id,context_annotations,conversation_id,created_at,"
    "entities,geo,id,in_reply_to_user_id,lang,public_metrics,text,possibly_sensitive,"
    "referenced_tweets,reply_settings,source,withheld",
    "user.fields": "created_at,description,entities,id,location,name,pinned_tweet_id,"
    "profile_image_url,protected,public_metrics,url,username,verified,withheld",
    "media.fields": "alt_text,duration_ms,height,media_key,preview_image_url,type,url,width,"
    "public_metrics",
    "place.fields": "contained_within,country,country_code,full_name,geo,id,name,place_type",
}


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session


async def read_lines(response: aiohttp.ClientResponse, count: int) -> list[bytes]:
    """Read `count` raw lines (keep-alives included) from a stream."""

    async def read() -> list[bytes]:
        return [await response.content.readline() for _ in range(count)]

    return await asyncio.wait_for(read(), 5)


async def next_item(response: aiohttp.ClientResponse) -> dict[str, Any]:
    """The next non-keep-alive line of a stream, parsed."""
    while True:
        (line,) = await read_lines(response, 1)
        if line != b"\r\n":
            return dict(json.loads(line))


def without_rules(item: dict[str, Any]) -> dict[str, Any]:
    """A stored item whose matching rules the fake computes itself."""
    return {k: v for k, v in item.items() if k != "matching_rules"}


def tweet(text: str, **fields: Any) -> dict[str, Any]:
    """A hand-written stored item, entities found in its text."""
    return make_item(text, **fields)


@pytest.mark.parametrize("path", [STREAM, RULES])
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}])
async def test_wrong_or_missing_token_gets_the_real_401(
    fake_x: FakeXServer, http: aiohttp.ClientSession, path: str, headers: dict[str, str]
) -> None:
    """Every endpoint answers a bad bearer token with the real 401 problem body."""
    async with http.get(fake_x.url + path, headers=headers) as response:
        assert response.status == 401
        assert response.content_type == "application/problem+json"
        assert await response.json(content_type=None) == UNAUTHORIZED


async def test_stream_without_rules_is_409(
    fake_x: FakeXServer, http: aiohttp.ClientSession
) -> None:
    """Connecting with no rules gets 409 and the real RuleConfigurationIssue body."""
    async with http.get(fake_x.url + STREAM, headers=AUTH) as response:
        assert response.status == 409
        assert await response.json(content_type=None) == NO_RULES


async def test_second_connection_is_429(fake_x: FakeXServer, http: aiohttp.ClientSession) -> None:
    """A second concurrent connection gets 429 TooManyConnections, like the real stream."""
    fake_x.add_rule("#uemedef14")
    async with http.get(fake_x.url + STREAM, headers=AUTH) as first:
        assert first.status == 200
        async with http.get(fake_x.url + STREAM, headers=AUTH) as second:
            assert second.status == 429
            assert await second.json(content_type=None) == TOO_MANY_CONNECTIONS


async def test_stream_is_chunked_lines_and_keep_alives(
    fake_x: FakeXServer, http: aiohttp.ClientSession
) -> None:
    """The stream is chunked; items are compact JSON lines ending in CRLF, keep-alives bare CRLF."""
    fake_x.add_rule("#uemedef14", "hashwall:1")
    async with http.get(fake_x.url + STREAM, headers=AUTH) as response:
        assert response.status == 200
        assert response.headers["Transfer-Encoding"] == "chunked"
        assert response.content_type == "application/json"
        assert await read_lines(response, 2) == [b"\r\n", b"\r\n"]
        fake_x.push(tweet("Bonjour #uemedef14 !"))
        line = b"\r\n"
        while line == b"\r\n":
            (line,) = await read_lines(response, 1)
    assert line.endswith(b"}\r\n") and b"\n" not in line[:-1]
    item = json.loads(line)
    assert line == json.dumps(item, separators=(",", ":"), ensure_ascii=False).encode() + b"\r\n"
    assert item["matching_rules"] == [{"id": next(iter(fake_x.rules)), "tag": "hashwall:1"}]


async def test_only_default_fields_without_parameters(
    fake_x: FakeXServer, http: aiohttp.ClientSession
) -> None:
    """With no fields or expansions requested the real defaults come back: id, text, history."""
    fake_x.add_rule("#uemedef14")
    fake_x.push(tweet("#uemedef14", lang="fr", edit_history_tweet_ids=["1600000000000000001"]))
    async with http.get(fake_x.url + STREAM, headers=AUTH) as response:
        item = await next_item(response)
    assert set(item) == {"data", "matching_rules"}
    assert set(item["data"]) == {"id", "text", "edit_history_tweet_ids"}
    assert item["matching_rules"][0]["tag"] == ""


async def test_recorded_items_are_replayed_as_recorded(
    fake_x: FakeXServer, http: aiohttp.ClientSession
) -> None:
    """Asked for what the recorder asked for, the fake sends back each recorded item."""
    fake_x.add_rule("dogs")
    recorded = recorded_stream_items()
    for item in recorded:
        fake_x.push(item)
    async with http.get(fake_x.url + STREAM, headers=AUTH, params=TWARC_PARAMS) as response:
        for expected in recorded:
            got = await next_item(response)
            assert got["data"] == expected["data"]
            assert got["matching_rules"] == expected["matching_rules"]
            for key, values in expected["includes"].items():
                by_id = sorted(json.dumps(v, sort_keys=True) for v in values)
                assert sorted(json.dumps(v, sort_keys=True) for v in got["includes"][key]) == by_id
            assert set(got["includes"]) == set(expected["includes"])


async def test_requested_fields_and_expansions_filter_includes(
    fake_x: FakeXServer, http: aiohttp.ClientSession
) -> None:
    """Only the requested expansions produce includes, each cut to its requested fields."""
    fake_x.add_rule("dogs")
    fake_x.push(without_rules(recorded_stream_items()[0]))
    params = {"expansions": "author_id", "user.fields": "verified"}
    async with http.get(fake_x.url + STREAM, headers=AUTH, params=params) as response:
        item = await next_item(response)
    assert set(item["data"]) == {"id", "text", "author_id"}
    assert item["includes"] == {
        "users": [
            {
                "verified": False,
                "name": "Endangered Species",
                "username": "blackheart_265",
                "id": "4602771083",
            }
        ]
    }


async def test_unknown_field_is_the_real_400(
    fake_x: FakeXServer, http: aiohttp.ClientSession
) -> None:
    """An unknown field value gets 400 with the invalid-request problem body."""
    fake_x.add_rule("#uemedef14")
    params = {"tweet.fields": "text,colour"}
    async with http.get(fake_x.url + STREAM, headers=AUTH, params=params) as response:
        assert response.status == 400
        body = await response.json(content_type=None)
    assert body["type"] == "https://api.twitter.com/2/problems/invalid-request"
    assert body["errors"][0]["parameters"] == {"tweet.fields": ["text,colour"]}
    assert "[colour]" in body["errors"][0]["message"]


async def test_missing_reference_gives_partial_errors(
    fake_x: FakeXServer, http: aiohttp.ClientSession
) -> None:
    """A referenced post that cannot be hydrated comes back as a not-found error beside data."""
    fake_x.add_rule("#uemedef14")
    fake_x.push(tweet("RT @bob: #uemedef14", referenced_tweets=[{"type": "retweeted", "id": "5"}]))
    params = {"expansions": "referenced_tweets.id"}
    async with http.get(fake_x.url + STREAM, headers=AUTH, params=params) as response:
        item = await next_item(response)
    (error,) = item["errors"]
    assert error["title"] == "Not Found Error"
    assert error["resource_id"] == "5"
    assert "includes" not in item


async def test_items_matching_no_rule_are_not_sent(
    fake_x: FakeXServer, http: aiohttp.ClientSession
) -> None:
    """Only items that match an active rule are streamed, with every rule they match."""
    first = fake_x.add_rule("#uemedef14", "hashwall:1")
    second = fake_x.add_rule("bonjour")
    fake_x.push(tweet("nothing to see"))
    fake_x.push(tweet("bonjour #uemedef14"))
    async with http.get(fake_x.url + STREAM, headers=AUTH) as response:
        item = await next_item(response)
    assert item["data"]["text"] == "bonjour #uemedef14"
    assert item["matching_rules"] == [
        {"id": first, "tag": "hashwall:1"},
        {"id": second, "tag": ""},
    ]


async def test_operational_disconnect_then_end_of_stream(
    fake_x: FakeXServer, http: aiohttp.ClientSession
) -> None:
    """A scripted operational disconnect sends the real error item, then ends the stream."""
    fake_x.add_rule("#uemedef14")
    async with http.get(fake_x.url + STREAM, headers=AUTH) as response:
        await fake_x.wait_until(lambda: fake_x.open_connections == 1)
        fake_x.push_operational_disconnect()
        assert await next_item(response) == OPERATIONAL_DISCONNECT
        rest = await asyncio.wait_for(response.content.read(), 5)
    assert rest.strip(b"\r\n") == b""


async def test_abrupt_disconnect_breaks_the_payload(
    fake_x: FakeXServer, http: aiohttp.ClientSession
) -> None:
    """A scripted abrupt disconnect leaves the chunked body unfinished."""
    fake_x.add_rule("#uemedef14")
    async with http.get(fake_x.url + STREAM, headers=AUTH) as response:
        await fake_x.wait_until(lambda: fake_x.open_connections == 1)
        fake_x.disconnect()
        with pytest.raises(aiohttp.ClientPayloadError):
            await asyncio.wait_for(response.content.read(), 5)


async def test_items_wait_for_the_next_connection(
    fake_x: FakeXServer, http: aiohttp.ClientSession
) -> None:
    """Items pushed while nobody is connected are delivered on the next connection."""
    fake_x.add_rule("#uemedef14")
    fake_x.push(tweet("#uemedef14 one"))
    async with http.get(fake_x.url + STREAM, headers=AUTH) as response:
        assert (await next_item(response))["data"]["text"] == "#uemedef14 one"
    assert fake_x.items_sent == 1


async def test_rules_add_duplicate_and_meta(
    fake_x: FakeXServer, http: aiohttp.ClientSession
) -> None:
    """Adding answers 201 with data and a summary; adding again reports DuplicateRule."""
    body = {"add": [{"value": "(#uemedef14 OR #Paroles2CEO)", "tag": "hashwall:1"}]}
    async with http.post(fake_x.url + RULES, headers=AUTH, json=body) as response:
        assert response.status == 201
        created = await response.json()
    (rule,) = created["data"]
    assert rule["value"] == "(#uemedef14 OR #Paroles2CEO)" and rule["tag"] == "hashwall:1"
    assert created["meta"]["summary"] == {"created": 1, "not_created": 0, "valid": 1, "invalid": 0}
    assert created["meta"]["sent"].endswith("Z")
    async with http.post(fake_x.url + RULES, headers=AUTH, json=body) as response:
        again = await response.json()
    assert "data" not in again
    assert again["errors"] == [
        {
            "value": "(#uemedef14 OR #Paroles2CEO)",
            "id": rule["id"],
            "title": "DuplicateRule",
            "type": "https://api.twitter.com/2/problems/duplicate-rules",
        }
    ]
    async with http.get(fake_x.url + RULES, headers=AUTH) as response:
        listed = await response.json()
    assert listed["data"] == [rule]
    assert listed["meta"]["result_count"] == 1


async def test_invalid_rule_refuses_the_whole_request(
    fake_x: FakeXServer, http: aiohttp.ClientSession
) -> None:
    """One invalid rule gets UnprocessableEntity with details, and nothing is created."""
    body = {"add": [{"value": "#ok"}, {"value": "(#a OR"}]}
    async with http.post(fake_x.url + RULES, headers=AUTH, json=body) as response:
        assert response.status == 200
        answer = await response.json()
    assert answer["meta"]["summary"] == {"created": 0, "not_created": 2, "valid": 1, "invalid": 1}
    (error,) = answer["errors"]
    assert error["title"] == "UnprocessableEntity"
    assert error["type"] == "https://api.twitter.com/2/problems/invalid-rules"
    assert error["value"] == "(#a OR" and error["details"]
    assert fake_x.rules == {}


async def test_dry_run_and_delete(fake_x: FakeXServer, http: aiohttp.ClientSession) -> None:
    """dry_run validates without storing; delete by ids reports deleted and missing rules."""
    body: dict[str, Any] = {"add": [{"value": "#uemedef14"}]}
    async with http.post(
        fake_x.url + RULES, headers=AUTH, json=body, params={"dry_run": "true"}
    ) as response:
        assert response.status == 201
        assert (await response.json())["meta"]["summary"]["created"] == 1
    assert fake_x.rules == {}
    kept = fake_x.add_rule("#uemedef14")
    body = {"delete": {"ids": [kept, "42"]}}
    async with http.post(fake_x.url + RULES, headers=AUTH, json=body) as response:
        answer = await response.json()
    assert answer["meta"]["summary"] == {"deleted": 1, "not_deleted": 1}
    assert answer["errors"][0]["title"] == "Invalid Request"
    async with http.get(fake_x.url + RULES, headers=AUTH) as response:
        assert (await response.json())["meta"]["result_count"] == 0


async def test_malformed_rules_request_is_400(
    fake_x: FakeXServer, http: aiohttp.ClientSession
) -> None:
    """A body with neither add nor delete gets 400 application/problem+json."""
    async with http.post(fake_x.url + RULES, headers=AUTH, json={"nope": 1}) as response:
        assert response.status == 400
        assert response.content_type == "application/problem+json"


async def test_tweepy_rules_calls_work_against_the_fake(fake_x: FakeXServer) -> None:
    """tweepy's add, get and delete rules calls, dry_run included, speak to the fake."""
    client = XStreamingClient(TOKEN, api_url=fake_x.url)
    from tweepy import StreamRule

    dry = await asyncio.wait_for(client.add_rules(StreamRule("#uemedef14"), dry_run=True), 5)
    assert dry.data[0].value == "#uemedef14" and fake_x.rules == {}
    added = await asyncio.wait_for(client.add_rules(StreamRule("#uemedef14", tag="t")), 5)
    listed = await asyncio.wait_for(client.get_rules(), 5)
    assert [(r.value, r.tag, r.id) for r in listed.data] == [("#uemedef14", "t", added.data[0].id)]
    await asyncio.wait_for(client.delete_rules(added.data[0].id), 5)
    assert (await asyncio.wait_for(client.get_rules(), 5)).data is None
    assert fake_x.rules_requests("POST")[0].query == {"dry_run": "true"}
    assert fake_x.rules_requests("POST")[0].headers["Authorization"] == f"Bearer {TOKEN}"


def test_and_binds_before_or() -> None:
    """`#a OR #b -is:retweet` lets retweets of #a through; the grouped rule does not."""
    retweet = tweet("RT @x: #uemedef14", referenced_tweets=[{"type": "retweeted", "id": "9"}])
    original = tweet("#uemedef14 #Paroles2CEO")
    assert rule_matches("#uemedef14 OR #Paroles2CEO -is:retweet", retweet)
    assert not rule_matches("(#uemedef14 OR #Paroles2CEO) -is:retweet", retweet)
    assert rule_matches("(#uemedef14 OR #Paroles2CEO) -is:retweet", original)
    assert rule_matches("#PAROLES2ceo", original)
    assert not rule_matches("#uemedef14 -#Paroles2CEO", original)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("(#a OR #b", "mismatched parentheses"),
        ("#a OR", "Ambiguous use of or"),
        ("-#a", "non-negation"),
        ("is:retweet", "non-stopword"),
        ("colour:red #a", "invalid operator 'colour'"),
        ("", "must not be empty"),
    ],
)
def test_rule_validator_refuses_what_x_refuses(value: str, words: str) -> None:
    """The fake's rule validator reports the common mistakes with a position."""
    with pytest.raises(RuleSyntaxError, match=words):
        check_rule_syntax(value)
