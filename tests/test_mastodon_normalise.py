"""The Mastodon normaliser: every recorded status becomes a clean Post, and the policy that
keeps non-public statuses off the wall."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from moderation.post import Kind, Status
from moderation.rules import RuleSet
from moderation.store import create_store
from server.pipeline import Pipeline
from server.sources.mastodon.html_text import html_to_text
from server.sources.mastodon.normalise import admissible, normalise_status
from tests.fake_mastodon.recordings import recorded_statuses, unique_statuses

ALL = recorded_statuses()
MARKUP = ("<p", "<a ", "<br", "<span", "</")
REFERENCES = ("&#39;", "&amp;", "&lt;", "&gt;", "&quot;", "&nbsp;")


def _first(predicate: Any) -> dict[str, Any]:
    return next(s for s in ALL if predicate(s))


def test_every_recorded_status_normalises_into_clean_text_with_exact_spans() -> None:
    """All 646 recorded statuses normalise; no markup or character reference survives and
    every entity covers exactly the text it names."""
    assert len(ALL) == 646
    for status in ALL:
        post = normalise_status(status)
        for text in (post.text, *(m.alt_text or "" for m in post.media)):
            assert not any(mark in text for mark in MARKUP), (status["uri"], text)
        for ref in REFERENCES:
            # Only a reference the author typed (escaped once more in the HTML) may remain.
            assert post.text.count(ref) == status["content"].count(ref.replace("&", "&amp;", 1))
        # A literal `<` in the text is one the author wrote (`x <- 1` in R), never markup.
        assert post.text.count("<") == status["content"].count("&lt;")
        for entity in post.entities:
            assert post.text[entity.start:entity.end] == entity.text
            assert entity.text.strip() == entity.text != ""
        if post.network == "mastodon":
            assert "@" in post.author.handle and not post.author.handle.startswith("@")
        assert post.permalink


def test_paragraphs_and_line_breaks_are_kept() -> None:
    """`<p>` becomes a blank line and `<br>` a line break."""
    rich = html_to_text("<p>Bonjour&nbsp;à tous<br>deuxième ligne</p><p>l&#39;été</p>")
    assert rich.text == "Bonjour\xa0à tous\ndeuxième ligne\n\nl'été"
    status = _first(lambda s: "<br" in s["content"] and s["content"].count("<p>") > 1)
    text = normalise_status(status).text
    assert "\n\n" in text and "\n" in text.replace("\n\n", "")


def test_links_show_their_visible_text_and_cut_urls_end_in_an_ellipsis() -> None:
    """The invisible parts of a URL are dropped, a cut URL ends in "…", the entity keeps the
    full address."""
    rich = html_to_text(
        '<p>voir <a href="https://www.medef.com/fr/universite-d-ete-2026" rel="nofollow">'
        '<span class="invisible">https://www.</span><span class="ellipsis">medef.com/fr/univ'
        'ersite</span><span class="invisible">-d-ete-2026</span></a> ici</p>')
    assert rich.text == "voir medef.com/fr/universite… ici"
    (link,) = rich.entities
    assert (link.type, link.text, link.url) == (
        "url", "medef.com/fr/universite…", "https://www.medef.com/fr/universite-d-ete-2026")
    assert rich.text[link.start:link.end] == link.text
    status = _first(lambda s: 'class="ellipsis"' in s["content"])
    post = normalise_status(status)
    urls = [e for e in post.entities if e.type == "url"]
    assert urls and any(e.text.endswith("…") for e in urls)
    assert all(e.url and e.url.startswith("http") for e in urls)


def test_hashtags_and_mentions_are_entities_counted_in_code_points() -> None:
    """Hashtags and mentions become entities whose offsets count code points, after emoji."""
    rich = html_to_text(
        '<p>🎉 <a href="https://piaille.fr/tags/uemedef14" class="mention hashtag" rel="tag">#'
        '<span>uemedef14</span></a> avec <span class="h-card"><a href="https://piaille.fr/@ana"'
        ' class="u-url mention">@<span>ana</span></a></span></p>')
    assert [(e.type, e.start, e.end, e.text) for e in rich.entities] == [
        ("hashtag", 2, 12, "#uemedef14"), ("mention", 18, 22, "@ana")]
    status = _first(lambda s: "mention hashtag" in s["content"])
    post = normalise_status(status)
    tags = {e.text.lstrip("#").casefold() for e in post.entities if e.type == "hashtag"}
    assert tags >= {t["name"].casefold() for t in status["tags"]} - {""} or tags


def test_custom_emoji_are_entities_carrying_their_image() -> None:
    """A `:shortcode:` of a custom emoji is an `emoji` entity with the emoji's image URL."""
    status = _first(lambda s: s["emojis"] and any(f":{e['shortcode']}:" in s["content"]
                                                  for e in s["emojis"]))
    post = normalise_status(status)
    emoji = [e for e in post.entities if e.type == "emoji"]
    assert emoji
    by_code = {e["shortcode"]: e["static_url"] for e in status["emojis"]}
    for entity in emoji:
        assert entity.url == by_code[entity.text.strip(":")]


def test_media_keep_their_preview_alt_text_and_size() -> None:
    """An image attachment keeps its full and preview URLs, its description and its size."""
    status = _first(lambda s: any(m["type"] == "image" and m.get("description")
                                  for m in s["media_attachments"]))
    raw = next(m for m in status["media_attachments"] if m["type"] == "image")
    media = next(m for m in normalise_status(status).media if m.url == raw["url"])
    assert (media.type, media.preview_url, media.alt_text) == (
        "photo", raw["preview_url"], raw["description"])
    assert (media.width, media.height) == (raw["meta"]["original"]["width"],
                                           raw["meta"]["original"]["height"])


def test_local_authors_get_the_server_in_their_handle() -> None:
    """`acct` without a domain is local to the server the status was read from."""
    status = _first(lambda s: "@" not in s["account"]["acct"])
    assert normalise_status(status, "piaille.fr").author.handle == (
        status["account"]["acct"] + "@piaille.fr")
    assert normalise_status(status).author.handle.endswith(
        "@" + status["account"]["url"].split("/")[2])
    remote = _first(lambda s: "@" in s["account"]["acct"] and "brid.gy" not in s["uri"])
    assert normalise_status(remote, "piaille.fr").author.handle == remote["account"]["acct"]


def test_the_permalink_language_and_id_follow_the_status() -> None:
    """The post id is the status uri, the permalink its url, the language its language."""
    status = _first(lambda s: s["edited_at"] is None and s["language"] == "fr"
                    and "brid.gy" not in s["uri"])
    post = normalise_status(status)
    assert (post.id, post.network, post.permalink, post.lang) == (
        "mastodon:" + status["uri"], "mastodon", status["url"], "fr")
    assert post.created_at == status["created_at"]


def test_a_status_bridged_from_bluesky_gets_its_bluesky_id() -> None:
    """A Bridgy Fed status is the Bluesky post itself: `bluesky:at://…`, Bluesky handle."""
    bridged = [s for s in ALL if s["uri"].startswith("https://bsky.brid.gy/convert/ap/at://")]
    assert len(bridged) >= 40
    for status in bridged:
        post = normalise_status(status)
        at_uri = status["uri"].removeprefix("https://bsky.brid.gy/convert/ap/")
        assert post.id == "bluesky:" + at_uri and post.network == "bluesky"
        assert not post.author.handle.endswith("@bsky.brid.gy")
        assert post.author.id == at_uri.split("/")[2]  # the DID, as the Bluesky source has it
        assert post.permalink and post.permalink.startswith("https://bsky.app/profile/did:")
        assert post.extra["via"] == "mastodon"


def test_content_warnings_and_sensitive_media_are_possibly_sensitive() -> None:
    """A spoiler text or sensitive media marks the post, the warning is kept in `extra`."""
    warned = _first(lambda s: s["spoiler_text"] and s["visibility"] == "public")
    post = normalise_status(warned)
    assert post.possibly_sensitive
    assert post.extra["content_warning"] == warned["spoiler_text"]
    sensitive = _first(lambda s: s["sensitive"] and not s["spoiler_text"])
    assert normalise_status(sensitive).possibly_sensitive
    plain = _first(lambda s: not s["sensitive"] and not s["spoiler_text"])
    assert not normalise_status(plain).possibly_sensitive
    assert normalise_status(plain).extra["visibility"] == plain["visibility"]


def test_only_public_statuses_are_admissible_unlisted_by_choice() -> None:
    """Private and direct statuses never pass; unlisted ones only when the setting allows."""
    by_visibility: dict[str, list[dict[str, Any]]] = {}
    for status in ALL:
        by_visibility.setdefault(status["visibility"], []).append(status)
    assert set(by_visibility) == {"public", "unlisted", "private", "direct"}
    for visibility, statuses in by_visibility.items():
        for status in statuses:
            boosted_ok = not status.get("reblog") or status["reblog"]["visibility"] == "public"
            assert admissible(status) is (visibility == "public" and boosted_ok)
            assert admissible(status, allow_unlisted=True) is (
                visibility in ("public", "unlisted") and (
                    not status.get("reblog")
                    or status["reblog"]["visibility"] in ("public", "unlisted")))


def test_boosts_replies_and_quotes_have_their_kind() -> None:
    """A reblog is a retweet of its original, a reply a reply, an accepted quote a quote."""
    boost = _first(lambda s: s.get("reblog"))
    post = normalise_status(boost)
    assert post.kind is Kind.RETWEET and post.referenced is not None
    assert post.referenced.id == "mastodon:" + boost["reblog"]["uri"] or (
        post.referenced.id.startswith("mastodon:" + boost["reblog"]["uri"] + "#edited-"))
    reply = _first(lambda s: s["in_reply_to_id"] and not s.get("reblog") and not s.get("quote"))
    assert normalise_status(reply).kind is Kind.REPLY
    quoted = _first(lambda s: isinstance(s.get("quote"), dict)
                    and s["quote"].get("state") == "accepted" and s["quote"].get("quoted_status"))
    quote = normalise_status(quoted)
    assert quote.kind is Kind.QUOTE and quote.referenced is not None
    assert "quote-inline" in quoted["content"] and not quote.text.startswith("RE:")


def test_an_edited_status_is_an_edit_of_its_first_version() -> None:
    """`edited_at` makes a new version whose `edit_of` is the status's own uri id."""
    edited = _first(lambda s: s["edited_at"] and "brid.gy" not in s["uri"])
    post = normalise_status(edited)
    assert post.edit_of == "mastodon:" + edited["uri"]
    assert post.id == f"mastodon:{edited['uri']}#edited-{edited['edited_at']}"
    first = normalise_status({**edited, "edited_at": None})
    assert first.id == post.edit_of and first.edit_of is None


@pytest.fixture
async def pipeline(tmp_path: Path) -> Any:
    """A real pipeline over a real SQLite store."""
    store = create_store(f"sqlite:///{tmp_path / 'wall.sqlite3'}")
    await store.open()
    line = Pipeline(store, RuleSet())
    await line.start()
    try:
        yield line
    finally:
        await line.stop()
        await store.close()


async def test_a_boost_counts_toward_its_original_in_the_queue(pipeline: Pipeline) -> None:
    """The original is queued once; each boost of it (and the original itself) counts."""
    boost = _first(lambda s: s.get("reblog") and s["reblog"]["visibility"] == "public")
    original = normalise_status(boost["reblog"])
    item = await asyncio.wait_for(pipeline.ingest(original), 5)
    assert item is not None and item.post.id == original.id
    counted = await asyncio.wait_for(pipeline.ingest(normalise_status(boost)), 5)
    again = await asyncio.wait_for(pipeline.ingest(normalise_status(boost)), 5)
    assert counted is not None and counted.post.id == original.id and counted.shares == 1
    assert again is not None and again.shares == 1  # the same boost twice counts once
    assert len(await pipeline.store.list_items(Status.PENDING, 100)) == 1


async def test_an_edit_follows_the_edit_rules(pipeline: Pipeline) -> None:
    """A newer version of a pending status supersedes it, as an X edit does."""
    edited = _first(lambda s: s["edited_at"] and "brid.gy" not in s["uri"])
    first = normalise_status({**edited, "edited_at": None})
    await asyncio.wait_for(pipeline.ingest(first), 5)
    await asyncio.wait_for(pipeline.ingest(normalise_status(edited)), 5)
    pending = await pipeline.store.list_items(Status.PENDING, 100)
    rejected = await pipeline.store.list_items(Status.REJECTED, 100)
    assert [i.post.id for i in pending] == [normalise_status(edited).id]
    assert [(i.post.id, i.rule) for i in rejected] == [(first.id, "edit.superseded")]


def test_the_same_status_from_two_servers_is_one_post() -> None:
    """The id comes from the uri, so two servers' copies (different ids) are one post."""
    status = unique_statuses()[3]
    other = {**status, "id": "1", "url": "https://piaille.fr/@x/1"}
    assert normalise_status(status, "a.example").id == normalise_status(other, "b.example").id
    assert dataclasses.replace(normalise_status(status)).text == normalise_status(other).text


async def test_recorded_statuses_replay_through_the_mastodon_normaliser(
        pipeline: Pipeline, tmp_path: Path) -> None:
    """A replay file of Mastodon statuses queues the public ones, each once."""
    import json

    from server.sources.replay import ReplaySource

    statuses = unique_statuses("mastodonpy_real_instances_statuses.jsonl")
    file = tmp_path / "mastodon.jsonl"
    file.write_text("\n".join([json.dumps({"hashwall_replay": 1, "network": "mastodon"})]
                              + [json.dumps(s) for s in statuses]) + "\n", encoding="utf-8")
    source = ReplaySource(file, pipeline.offer, 0)
    await source.start()
    try:
        await asyncio.wait_for(source.done.wait(), 10)
        await asyncio.wait_for(pipeline.settled(), 10)
    finally:
        await source.stop()
    posts = [normalise_status(s) for s in statuses if admissible(s)]
    wanted = {p.referenced.id if p.referenced and p.kind is Kind.RETWEET else p.id
              for p in posts}  # a boost queues its original
    queued = {i.post.id for status in Status
              for i in await pipeline.store.list_items(status, 1000)}
    assert queued == wanted and len(wanted) < len(statuses) and not source.errors
