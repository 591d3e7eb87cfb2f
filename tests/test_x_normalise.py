"""The X normaliser against real recorded payloads and hand-written edge cases."""

from __future__ import annotations

import copy
import html
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from moderation.exceptions import MalformedPayload
from moderation.post import Kind, Post
from server.sources.x.normalise import (
    normalise_lookup_page,
    normalise_matching_rules,
    normalise_stream_item,
)
from tests.fake_x import (
    LOOKUP_FILES,
    STREAM_FILE,
    fixture_lines,
    load_fixture,
    recorded_lookup_items,
    recorded_stream_items,
)


def by_id(items: list[dict[str, Any]], native_id: str) -> dict[str, Any]:
    """The stream item whose post has this id."""
    return next(item for item in items if item["data"]["id"] == native_id)


def assert_entities_cover_their_text(post: Post) -> None:
    """Every entity span of a post and of the post it references is exactly its text."""
    for entity in post.entities:
        assert post.text[entity.start : entity.end] == entity.text, entity
        assert entity.text[0] in "#@h＃＠", entity
    if post.referenced is not None:
        assert_entities_cover_their_text(post.referenced)


def item(**data: Any) -> dict[str, Any]:
    """A minimal hand-written stream item around one post."""
    tweet = {"id": "1500000000000000000", "text": "hello", "author_id": "42", **data}
    return {
        "data": tweet,
        "includes": {"users": [{"id": "42", "username": "ada", "name": "Ada L."}]},
        "matching_rules": [{"id": "7", "tag": "hashwall:abc"}],
    }


def test_every_recorded_stream_item_normalises() -> None:
    """Each complete line of the real stream recording becomes a Post with its author and rules."""
    items = recorded_stream_items()
    assert len(items) == 7
    for raw in items:
        post = normalise_stream_item(raw)
        assert post.id == f"x:{raw['data']['id']}"
        assert post.network == "x"
        assert post.author.id == raw["data"]["author_id"]
        assert post.author.handle
        assert post.permalink == f"https://x.com/{post.author.handle}/status/{raw['data']['id']}"
        assert post.created_at == raw["data"]["created_at"]
        assert post.extra == {"matching_rules": [{"id": "1377649934414049282", "tag": None}]}
        assert_entities_cover_their_text(post)
        assert Post.from_dict(json.loads(json.dumps(post.to_dict()))) == post


def test_broken_last_line_of_the_recording_is_not_json() -> None:
    """The recording ends with a line cut off mid-object, as a broken connection leaves it."""
    last = fixture_lines(STREAM_FILE)[-1]
    with pytest.raises(json.JSONDecodeError):
        json.loads(last)


def test_quote_carries_the_quoted_post_and_media() -> None:
    """A quote is kind QUOTE with the quoted post, its author and the quote's own photo."""
    post = normalise_stream_item(by_id(recorded_stream_items(), "1377650090978992134"))
    assert post.kind is Kind.QUOTE
    assert post.author.handle == "blackheart_265"
    assert post.author.name == "Endangered Species"
    assert post.author.avatar_url and post.author.avatar_url.startswith("https://pbs.twimg.com/")
    assert post.referenced is not None
    assert post.referenced.id == "x:1377640162566496258"
    assert post.referenced.author.handle == "Manie_DS"
    assert post.referenced.text.startswith("My car, Money, Warzone")
    assert post.referenced.extra == {}
    assert [(m.type, m.url, m.width, m.height) for m in post.media] == [
        ("photo", "https://pbs.twimg.com/media/Ex5ldKwXEAEnEnI.jpg", 500, 500)
    ]
    urls = [e for e in post.entities if e.type == "url"]
    assert urls[0].text == "https://t.co/YbMgHU5xRX"
    assert urls[0].url == "https://twitter.com/blackheart_265/status/1377650090978992134/photo/1"
    assert urls[0].display == "pic.twitter.com/YbMgHU5xRX"


def test_reply_sensitive_and_verified_flags() -> None:
    """Replies are kind REPLY, and possibly_sensitive and verified come through as booleans."""
    items = recorded_stream_items()
    reply = normalise_stream_item(by_id(items, "1377650459033280516"))
    assert reply.kind is Kind.REPLY
    assert reply.referenced is None
    assert reply.author.verified is True
    assert [e.text for e in reply.entities] == ["@AndrewDoak_WWL"]
    sensitive = normalise_stream_item(by_id(items, "1377650277642338305"))
    assert sensitive.possibly_sensitive is True
    assert sensitive.kind is Kind.ORIGINAL
    assert normalise_stream_item(by_id(items, "1377650090978992134")).possibly_sensitive is False


def test_entities_count_code_points_after_emoji() -> None:
    """Hashtags after astral emoji are placed by code point, as the API counts them."""
    post = normalise_stream_item(by_id(recorded_stream_items(), "1377650387579248643"))
    spans = [(e.type, e.start, e.end, e.text) for e in post.entities]
    assert spans[:2] == [("hashtag", 41, 55, "#DogsofTwitter"), ("hashtag", 56, 61, "#dogs")]
    assert post.media[0].width == 1536


@pytest.mark.parametrize("name", LOOKUP_FILES)
def test_lookup_pages_become_stream_items(name: str) -> None:
    """A lookup page splits into one stream item per post, with only what that post references."""
    pages = load_fixture(name)
    items = recorded_lookup_items(name, [{"id": 9, "tag": ""}])
    assert len(items) == sum(len(p["data"]) for p in pages)
    for raw in items:
        user_ids = {u["id"] for u in raw["includes"].get("users", [])}
        assert raw["data"]["author_id"] in user_ids
        assert raw["data"]["id"] not in {t["id"] for t in raw["includes"].get("tweets", [])}
        post = normalise_stream_item(raw)
        assert post.extra == {"matching_rules": [{"id": "9", "tag": None}]}
        assert_entities_cover_their_text(post)


def test_video_media_keeps_variants_and_preview() -> None:
    """A video has no url of its own: the preview image stands in, and the variants are kept."""
    (raw,) = recorded_lookup_items("media_tweet.jsonl")
    post = normalise_stream_item(raw)
    (video,) = post.media
    assert video.type == "video"
    assert video.preview_url == video.url
    assert video.url and video.url.endswith("7VaQu-AvReI8RHkv.jpg")
    assert (video.width, video.height) == (1280, 720)
    assert len(video.variants) == 4
    assert {"content_type": "application/x-mpegURL"}.items() <= next(
        v for v in video.variants if v["content_type"] == "application/x-mpegURL"
    ).items()
    assert post.edit_of is None


def test_alt_text_and_edit_history() -> None:
    """The first version has no edit_of; the edit points at the original id."""
    (before,) = recorded_lookup_items("edited_before.jsonl")
    (after,) = recorded_lookup_items("edited_after.jsonl")
    first = normalise_stream_item(before)
    edit = normalise_stream_item(after)
    assert first.edit_of is None
    assert first.media[0].alt_text == "selfie of me with memoji"
    assert edit.id == "x:1576994789110992896"
    assert edit.edit_of == "x:1576994746135764992"
    assert edit.text == "hey :) https://t.co/rnwEIoNuqd"
    assert edit.lang == "qst"


def test_quote_that_is_also_a_reply_is_a_quote() -> None:
    """A post that quotes and replies shows the quoted post."""
    (raw,) = recorded_lookup_items("quoted_edit.jsonl")
    post = normalise_stream_item(raw)
    assert post.kind is Kind.QUOTE
    assert post.referenced is not None
    assert post.referenced.id == "x:1576994746135764992"
    assert post.referenced.author.handle == "wongmjane"
    assert post.referenced.author.verified is True


@pytest.mark.parametrize("name", ["mentions_tweet.jsonl", "two_tweets.jsonl"])
def test_retweet_references_the_full_original(name: str) -> None:
    """A retweet is kind RETWEET; its truncated text stays, the whole original is referenced."""
    (raw,) = recorded_lookup_items(name)
    post = normalise_stream_item(raw)
    assert post.kind is Kind.RETWEET
    assert post.text.startswith("RT @")
    assert post.referenced is not None
    assert post.referenced.kind is Kind.ORIGINAL
    assert not post.referenced.text.startswith("RT @")
    assert post.referenced.author.handle in post.text


def test_retweet_original_entities_after_emoji() -> None:
    """The retweeted original keeps mentions, hashtags and urls placed after an emoji."""
    (raw,) = recorded_lookup_items("mentions_tweet.jsonl")
    original = normalise_stream_item(raw).referenced
    assert original is not None
    texts = [e.text for e in original.entities]
    assert texts[:2] == ["@Xbox", "@masseffect"]
    assert "#PlayStation" in texts
    displays = [e.display for e in original.entities if e.type == "url"]
    assert "twitter.com/i/web/status/1…" in displays


def test_html_is_unescaped_and_entities_follow() -> None:
    """`&amp;`, `&lt;`, `&gt;` are unescaped; spans counted on the escaped text move with them."""
    # The first "#uemedef14" is deliberately not an entity: only the offsets can find the second.
    raw_text = "#uemedef14 Q&amp;A &lt;3 #uemedef14 &gt; @ada https://t.co/abc"
    tag_at = raw_text.rindex("#uemedef14")
    ada_at = raw_text.index("@ada")
    url_at = raw_text.index("https://")
    entities = {
        "hashtags": [{"start": tag_at, "end": tag_at + 10, "tag": "uemedef14"}],
        "mentions": [{"start": ada_at, "end": ada_at + 4, "username": "ada"}],
        "urls": [
            {
                "start": url_at,
                "end": url_at + 16,
                "url": "https://t.co/abc",
                "expanded_url": "https://example.org/a?b=1&c=2",
                "display_url": "example.org/a?b=1&c=2",
            }
        ],
    }
    post = normalise_stream_item(item(text=raw_text, entities=entities))
    assert post.text == "#uemedef14 Q&A <3 #uemedef14 > @ada https://t.co/abc"
    assert [(e.start, e.end, e.text) for e in post.entities] == [
        (18, 28, "#uemedef14"),
        (31, 35, "@ada"),
        (36, 52, "https://t.co/abc"),
    ]
    assert post.entities[2].url == "https://example.org/a?b=1&c=2"


def test_offsets_already_on_unescaped_text_are_accepted() -> None:
    """Offsets that fit the unescaped text (as some payloads send them) are kept as they are."""
    raw_text = "Q&amp;A #uemedef14"
    entities = {"hashtags": [{"start": 4, "end": 14, "tag": "uemedef14"}]}
    post = normalise_stream_item(item(text=raw_text, entities=entities))
    assert post.text == "Q&A #uemedef14"
    assert [(e.start, e.end) for e in post.entities] == [(4, 14)]


def test_entity_pointing_past_a_truncated_text_is_dropped() -> None:
    """An entity whose offsets and content match nothing in the text is left out."""
    entities = {"hashtags": [{"start": 90, "end": 99, "tag": "missing"}]}
    post = normalise_stream_item(item(text="RT @ada: short…", entities=entities))
    assert post.entities == ()


@given(
    st.lists(
        st.one_of(
            st.text(alphabet="ab &<>é😀\n", min_size=1, max_size=6),
            st.sampled_from(["#uemedef14", "#Paroles2CEO", "@ada"]),
        ),
        max_size=12,
    )
)
def test_unescaping_keeps_every_span_on_its_text(pieces: list[str]) -> None:
    """Whatever the mix of escapes and emoji, spans counted on escaped text land on their words."""
    raw_text = ""
    hashtags, mentions, expected = [], [], []
    for piece in [*pieces, " "]:
        escaped = html.escape(piece, quote=False)
        if piece.startswith(("#", "@")):
            raw_text += " "
            start = len(raw_text)
            raw_text += escaped
            span = {"start": start, "end": len(raw_text)}
            if piece[0] == "#":
                hashtags.append({**span, "tag": piece[1:]})
            else:
                mentions.append({**span, "username": piece[1:]})
            expected.append(piece)
            raw_text += " "
        else:
            raw_text += escaped
    post = normalise_stream_item(
        item(text=raw_text, entities={"hashtags": hashtags, "mentions": mentions})
    )
    assert post.text == html.unescape(raw_text)
    assert [e.text for e in post.entities] == expected
    assert_entities_cover_their_text(post)


def test_long_post_takes_note_tweet_text_and_entities() -> None:
    """A long post shows the full `note_tweet` text with the entities counted on it."""
    long_text = "Plénière &amp; débat " + "x" * 300 + " #Paroles2CEO"
    note = {
        "text": long_text,
        "entities": {
            "hashtags": [
                {"start": len(long_text) - 12, "end": len(long_text), "tag": "Paroles2CEO"}
            ]
        },
    }
    short = "Plénière &amp; débat xxx… https://t.co/z"
    post = normalise_stream_item(item(text=short, note_tweet=note))
    assert post.text == html.unescape(long_text)
    assert [e.text for e in post.entities] == ["#Paroles2CEO"]
    assert_entities_cover_their_text(post)


def test_matching_rules_accept_every_recorded_form() -> None:
    """Rule ids arrive as numbers or strings and tags as null, empty or a string."""
    rules = [
        {"id": 1377649934414049282, "tag": None},
        {"id": "1377649934414049283", "tag": ""},
        {"id": "5", "tag": "hashwall:abc"},
        {"id": 6},
    ]
    assert normalise_matching_rules(rules) == [
        {"id": "1377649934414049282", "tag": None},
        {"id": "1377649934414049283", "tag": None},
        {"id": "5", "tag": "hashwall:abc"},
        {"id": "6", "tag": None},
    ]
    raw = item()
    del raw["matching_rules"]
    assert normalise_stream_item(raw).extra == {"matching_rules": []}


def test_a_posts_dict_is_a_copy_that_round_trips() -> None:
    """Changing what to_dict gave (matching rules included) leaves the post as it was."""
    post = normalise_stream_item(item())
    assert post.extra["matching_rules"]
    data = post.to_dict()
    assert Post.from_dict(json.loads(json.dumps(data))) == post
    data["extra"]["matching_rules"][0]["tag"] = "changed"
    data["extra"]["matching_rules"].append({"id": "7"})
    assert post.to_dict()["extra"] == copy.deepcopy(post.extra) != data["extra"]
    assert all(rule.get("tag") != "changed" for rule in post.extra["matching_rules"])


def test_missing_author_gets_a_fallback() -> None:
    """A post whose author is not in includes keeps the author id and a link X resolves."""
    raw = item()
    raw["includes"] = {}
    post = normalise_stream_item(raw)
    assert post.author.id == "42"
    assert post.author.handle == ""
    assert post.permalink == "https://x.com/i/web/status/1500000000000000000"


def test_created_at_falls_back_to_the_snowflake_time() -> None:
    """Without created_at, the time encoded in the id is used, in the API's format."""
    raw = item(id="1377650090978992134")
    post = normalise_stream_item(raw)
    assert post.created_at.startswith("2021-04-01T15:52:3")
    assert post.created_at.endswith("Z")


def test_missing_referenced_post_leaves_referenced_empty() -> None:
    """A retweet whose original was not hydrated (partial errors) still normalises."""
    raw = item(text="RT @bob: hi", referenced_tweets=[{"type": "retweeted", "id": "1"}])
    raw["errors"] = [{"title": "Not Found Error", "resource_id": "1", "resource_type": "tweet"}]
    post = normalise_stream_item(raw)
    assert post.kind is Kind.RETWEET
    assert post.referenced is None


def test_edit_of_is_set_only_when_history_starts_elsewhere() -> None:
    """edit_of names the first version, never the post itself."""
    same = normalise_stream_item(item(edit_history_tweet_ids=["1500000000000000000"]))
    edited = normalise_stream_item(item(edit_history_tweet_ids=["1", "1500000000000000000"]))
    assert same.edit_of is None
    assert edited.edit_of == "x:1"


def _mutate(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    raw = copy.deepcopy(item())
    target: Any = raw
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return raw


_DELETE = object()


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        ([1, 2], "a list"),
        ({"matching_rules": []}, "with 'data'"),
        (
            {"errors": [{"title": "operational-disconnect", "detail": "gone"}]},
            "operational-disconnect",
        ),
        ({"data": [{"id": "1", "text": "a"}]}, "lookup page"),
        (_mutate(("data", "id"), _DELETE), "'id'"),
        (_mutate(("data", "id"), ["1"]), "'id'"),
        (_mutate(("data", "text"), _DELETE), "'text' string"),
        (_mutate(("data", "text"), 12), "a number"),
        (_mutate(("data",), "hello"), "a string"),
        (_mutate(("includes",), []), "'includes'"),
        (_mutate(("matching_rules",), {"id": 1}), "'matching_rules'"),
        (_mutate(("matching_rules",), [{"tag": "x"}]), "'id'"),
        (
            _mutate(("data", "entities"), {"hashtags": [{"start": "0", "end": 3, "tag": "a"}]}),
            "integer",
        ),
    ],
)
def test_unusable_payloads_raise_a_clear_error(payload: Any, words: str) -> None:
    """Anything that is not a readable post raises MalformedPayload saying what was expected."""
    with pytest.raises(MalformedPayload, match="Expected") as caught:
        normalise_stream_item(payload)
    assert words in str(caught.value)


def test_lookup_page_must_have_a_list() -> None:
    """normalise_lookup_page refuses a stream item with a clear error."""
    with pytest.raises(MalformedPayload, match="'data' is a list"):
        normalise_lookup_page(item())
