"""Checks on the bundled demo stream that `hashwall demo` replays."""

from __future__ import annotations

import html
import json
import re
import unicodedata
from collections import Counter
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any

BLOCKLIST_MIN = 15
RETWEETS_MIN = 12
PHOTO_POSTS_MIN = 20
TRUSTED_POSTS_MIN = 30
EVENT_TAGS = {"uemedef14", "paroles2ceo"}
RTL = re.compile("[\u0590-\u05ff\u0600-\u06ff]")


@cache
def _lines() -> tuple[str, ...]:
    text = resources.files("server.demo").joinpath("demo_stream.jsonl").read_text(encoding="utf-8")
    return tuple(text.splitlines())


@cache
def _items() -> tuple[dict[str, Any], ...]:
    return tuple(json.loads(line) for line in _lines())


@cache
def _config() -> dict[str, Any]:
    text = resources.files("server.demo").joinpath("demo_config.json").read_text(encoding="utf-8")
    return json.loads(text)


def _tweets(item: dict[str, Any]) -> list[dict[str, Any]]:
    return [item["data"], *item["includes"].get("tweets", [])]


def _users(item: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {user["id"]: user for user in item["includes"].get("users", [])}


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _blocked(text: str) -> bool:
    folded = _fold(html.unescape(text))
    return any(
        re.search(rf"(?<!\w){re.escape(_fold(word))}(?!\w)", folded)
        for word in _config()["blocked_words"]
    )


def _photo_keys(item: dict[str, Any]) -> set[str]:
    return {m["media_key"] for m in item["includes"].get("media", []) if m["type"] == "photo"}


def _own_media(item: dict[str, Any]) -> list[dict[str, Any]]:
    keys = item["data"].get("attachments", {}).get("media_keys", [])
    by_key = {m["media_key"]: m for m in item["includes"].get("media", [])}
    return [by_key[k] for k in keys]


def _reference_types(item: dict[str, Any]) -> set[str]:
    return {ref["type"] for ref in item["data"].get("referenced_tweets", [])}


def test_stream_is_long_enough() -> None:
    """The stream holds at least 150 posts, one per line, with no blank lines."""
    assert len(_lines()) >= 150
    assert all(line.strip() for line in _lines())


def test_every_line_is_a_filtered_stream_item() -> None:
    """Each line is one compact JSON object shaped like an X API v2 filtered-stream item."""
    for line in _lines():
        item = json.loads(line)
        assert set(item) == {"data", "includes", "matching_rules"}
        assert isinstance(item["data"], dict)
        assert isinstance(item["includes"], dict)
        assert item["matching_rules"]
        for rule in item["matching_rules"]:
            assert rule["id"].isdigit()
            assert rule["tag"].startswith("hashwall:")


def test_tweet_fields_follow_the_api() -> None:
    """Every post carries the v2 fields the ingester reads, with the API's formats."""
    for item in _items():
        for tweet in _tweets(item):
            assert tweet["id"].isdigit()
            assert tweet["author_id"].isdigit()
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z", tweet["created_at"])
            assert tweet["lang"] in {"fr", "en", "ar", "he"}
            assert tweet["edit_history_tweet_ids"] == [tweet["id"]]
            assert tweet["conversation_id"].isdigit()
            assert isinstance(tweet["possibly_sensitive"], bool)


def test_ids_are_unique_and_time_moves_forward() -> None:
    """Post ids are unique and increase along the stream, as do their creation times."""
    ids = [item["data"]["id"] for item in _items()]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids, key=int)
    times = [item["data"]["created_at"] for item in _items()]
    assert times == sorted(times)


def test_morning_burst_then_the_day() -> None:
    """The first 40 posts come within an hour; the rest spread over the day."""
    times = [datetime.fromisoformat(item["data"]["created_at"]) for item in _items()]
    assert times[39] - times[0] <= timedelta(hours=1)
    assert times[-1] - times[40] >= timedelta(hours=6)


def test_entity_spans_match_the_text() -> None:
    """Every hashtag, mention and url span, in code points, covers exactly what it names."""
    # Offsets count code points on the text as stored, that is HTML-escaped. The
    # recorded fixtures hold no escaped character to show it, but the v1.1 payload in
    # Twitter4J's HTMLEntityTest does ("@null &lt; #test" puts #test at 11), and the
    # normaliser accepts offsets on either form, so we keep the API's own convention.
    checked = 0
    for item in _items():
        for tweet in _tweets(item):
            text = tweet["text"]
            entities = tweet.get("entities", {})
            for tag in entities.get("hashtags", []):
                assert text[tag["start"] : tag["end"]] == "#" + tag["tag"]
                checked += 1
            for mention in entities.get("mentions", []):
                assert text[mention["start"] : mention["end"]] == "@" + mention["username"]
                checked += 1
            for url in entities.get("urls", []):
                assert text[url["start"] : url["end"]] == url["url"]
                assert url["expanded_url"].startswith("https://")
                assert url["display_url"]
                checked += 1
    assert checked > 300


def test_offsets_are_not_utf16_units() -> None:
    """Posts with emoji outside the BMP before an entity exist, so the offsets are tested."""
    shifted = 0
    for item in _items():
        text = item["data"]["text"]
        for tag in item["data"]["entities"].get("hashtags", []):
            if any(ord(ch) > 0xFFFF for ch in text[: tag["start"]]):
                shifted += 1
    assert shifted >= 20


def test_markup_is_escaped_like_the_api() -> None:
    """Texts are HTML-escaped; some carry markup meant to show as plain text."""
    texts = [t["text"] for item in _items() for t in _tweets(item)]
    assert not any("<" in text or ">" in text for text in texts)
    assert not any(re.search(r"&(?!amp;|lt;|gt;)", text) for text in texts)
    assert any("&lt;script&gt;" in text for text in texts)
    assert any("&lt;b&gt;" in text for text in texts)
    assert any("&amp;" in text for text in texts)


def test_every_post_carries_an_event_hashtag() -> None:
    """Each post has #uemedef14 or #Paroles2CEO as a hashtag entity, matching its rules."""
    for item in _items():
        tags = {h["tag"].lower() for h in item["data"]["entities"].get("hashtags", [])}
        assert tags & EVENT_TAGS
        rules = item["matching_rules"]
        rule_tags = {rule["tag"].removeprefix("hashwall:#").lower() for rule in rules}
        assert rule_tags == tags & EVENT_TAGS


def test_authors_media_and_references_are_included() -> None:
    """Every author, media key and referenced post an item names is in its includes."""
    for item in _items():
        users = _users(item)
        media = {m["media_key"] for m in item["includes"].get("media", [])}
        included = {t["id"] for t in item["includes"].get("tweets", [])}
        for tweet in _tweets(item):
            assert tweet["author_id"] in users
            for key in tweet.get("attachments", {}).get("media_keys", []):
                assert key in media
            for url in tweet.get("entities", {}).get("urls", []):
                if "media_key" in url:
                    assert url["media_key"] in media
        for ref in item["data"].get("referenced_tweets", []):
            assert ref["id"] in included
        for user in users.values():
            assert set(user) >= {"id", "name", "username", "profile_image_url", "verified"}
            assert re.fullmatch(
                r"https://pbs\.twimg\.com/profile_images/\d+/\w+_normal\.jpg",
                user["profile_image_url"],
            )


def test_authors_are_consistent_across_the_stream() -> None:
    """A user id always has the same handle, and there are about forty authors."""
    handles: dict[str, str] = {}
    for item in _items():
        for user in item["includes"]["users"]:
            assert handles.setdefault(user["id"], user["username"]) == user["username"]
    authors = {item["data"]["author_id"] for item in _items()}
    assert 35 <= len(authors) <= 50


def test_retweets() -> None:
    """At least 12 retweets, each truncated text naming the original's author, included."""
    count = 0
    for item in _items():
        data = item["data"]
        if "retweeted" not in _reference_types(item):
            assert not data["text"].startswith("RT @")
            continue
        count += 1
        original = item["includes"]["tweets"][0]
        author = _users(item)[original["author_id"]]["username"]
        assert data["text"].startswith(f"RT @{author}: ")
        body = data["text"].removeprefix(f"RT @{author}: ").removesuffix("…")
        assert original["text"].startswith(body)
    assert count >= RETWEETS_MIN


def test_some_retweets_point_back_into_the_stream() -> None:
    """Some retweeted originals appear earlier in the stream, and some do not."""
    seen: set[str] = set()
    earlier = outside = 0
    for item in _items():
        if "retweeted" in _reference_types(item):
            if item["includes"]["tweets"][0]["id"] in seen:
                earlier += 1
            else:
                outside += 1
        seen.add(item["data"]["id"])
    assert earlier >= 10
    assert outside >= 1


def test_replies_and_quotes() -> None:
    """A few replies and quotes, quotes linking to the quoted post."""
    replies = quotes = 0
    for item in _items():
        types = _reference_types(item)
        if "replied_to" in types:
            replies += 1
            parent = item["includes"]["tweets"][0]
            assert item["data"]["conversation_id"] == parent["conversation_id"]
            assert item["data"]["in_reply_to_user_id"] == parent["author_id"]
        if "quoted" in types:
            quotes += 1
            quoted = item["includes"]["tweets"][0]
            author = _users(item)[quoted["author_id"]]["username"]
            urls = [u["expanded_url"] for u in item["data"]["entities"]["urls"]]
            assert f"https://twitter.com/{author}/status/{quoted['id']}" in urls
    assert replies >= 3
    assert quotes >= 3


def test_blocklisted_posts() -> None:
    """At least 15 posts hold a blocked word, and no trusted author writes one."""
    trusted = {handle.lower() for handle in _config()["trusted_authors"]}
    blocked = 0
    for item in _items():
        if _blocked(item["data"]["text"]):
            blocked += 1
            author = _users(item)[item["data"]["author_id"]]["username"]
            assert author.lower() not in trusted
    assert blocked >= BLOCKLIST_MIN


def test_every_blocked_word_is_used() -> None:
    """Each word of the demo blocklist appears in at least one post."""
    texts = [_fold(html.unescape(item["data"]["text"])) for item in _items()]
    for word in _config()["blocked_words"]:
        assert any(_fold(word) in text for text in texts), word


def test_images_and_videos() -> None:
    """At least 20 posts carry a photo, most with alt text, and a video is there too."""
    photo_posts = 0
    photos_with_alt = photos_without_alt = 0
    kinds: Counter[str] = Counter()
    for item in _items():
        own = _own_media(item)
        kinds.update(m["type"] for m in own)
        photos = [m for m in own if m["type"] == "photo"]
        if photos:
            photo_posts += 1
        for photo in photos:
            assert re.fullmatch(r"https://pbs\.twimg\.com/media/[\w-]+\.jpg", photo["url"])
            assert photo["width"] > 0 and photo["height"] > 0
            if photo.get("alt_text"):
                photos_with_alt += 1
            else:
                photos_without_alt += 1
        for video in (m for m in own if m["type"] in {"video", "animated_gif"}):
            assert video["preview_image_url"].startswith("https://pbs.twimg.com/")
            assert any(v["content_type"] == "video/mp4" for v in video["variants"])
        assert _photo_keys(item) >= {m["media_key"] for m in photos}
    assert photo_posts >= PHOTO_POSTS_MIN
    assert photos_with_alt > photos_without_alt >= 3
    assert 1 <= kinds["video"] <= 3
    assert kinds["animated_gif"] >= 1


def test_possibly_sensitive_posts() -> None:
    """One or two posts are marked possibly sensitive."""
    sensitive = sum(item["data"]["possibly_sensitive"] for item in _items())
    assert 1 <= sensitive <= 2


def test_languages_and_right_to_left() -> None:
    """French is the majority, English is well present, and some lines run right to left."""
    langs = Counter(item["data"]["lang"] for item in _items())
    assert langs["fr"] > len(_items()) / 2
    assert langs["en"] >= 15
    rtl = [item for item in _items() if RTL.search(item["data"]["text"])]
    assert len(rtl) >= 2
    assert {"ar", "he"} <= {item["data"]["lang"] for item in rtl}
    assert any(item["data"]["lang"] == "fr" for item in rtl)


def test_long_words_and_long_urls() -> None:
    """Long words, a 60-character hashtag and long expanded urls test the layout."""
    texts = [item["data"]["text"] for item in _items()]
    assert any("anticonstitutionnellement" in text for text in texts)
    tags = [h["tag"] for item in _items() for h in item["data"]["entities"].get("hashtags", [])]
    assert max(len(tag) for tag in tags) >= 60
    urls = [u for item in _items() for u in item["data"]["entities"].get("urls", [])]
    assert max(len(u["expanded_url"]) for u in urls) >= 150
    assert any(u["display_url"].endswith("…") for u in urls)


def test_emoji_with_several_code_points() -> None:
    """Flags, skin tones and joined emoji appear in the texts."""
    text = " ".join(item["data"]["text"] for item in _items())
    for emoji in ("🇫🇷", "👩🏽\u200d💻", "👍🏾", "🤷\u200d♀️"):
        assert emoji in text


def test_trusted_authors_fill_the_wall() -> None:
    """The trusted authors exist in the stream and write at least 30 of the posts."""
    config = _config()
    trusted = {handle.lower() for handle in config["trusted_authors"]}
    assert 5 <= len(trusted) <= 8
    written: Counter[str] = Counter()
    for item in _items():
        handle = _users(item)[item["data"]["author_id"]]["username"].lower()
        written[handle] += 1
    assert trusted <= set(written)
    assert sum(written[handle] for handle in trusted) >= TRUSTED_POSTS_MIN
    assert sum(written[handle] for handle in trusted) < len(_items()) / 2


def test_config_names_the_event() -> None:
    """The demo config names the event and its hashtags."""
    event = _config()["event"]
    assert event["title"] == "Université d'été du MEDEF 2014"
    assert event["hashtags"] == ["#uemedef14", "#Paroles2CEO"]
