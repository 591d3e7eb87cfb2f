"""The pure Bluesky code: Jetstream v1 frames, the hashtag match, the normaliser, zstd."""

from __future__ import annotations

import asyncio

import orjson
import pytest
import zstandard

from moderation.post import Kind
from server.settings import SettingsError
from server.sources.bluesky.compression import (
    JETSTREAM_DICTIONARY_ID,
    FrameDecompressor,
    dictionary_id,
    shipped_dictionary,
)
from server.sources.bluesky.events import POST, REPOST, Account, Commit, Identity, Operation
from server.sources.bluesky.exceptions import MalformedFrame
from server.sources.bluesky.matcher import HashtagMatcher
from server.sources.bluesky.normalise import (
    fallback_author,
    normalise_post,
    normalise_repost,
    repost_subject,
)
from server.sources.bluesky.protocol import JetstreamV1
from tests.fake_bluesky import corpus, written
from tests.fake_bluesky.jetstream import JetstreamCompressor
from tests.utils import make_settings

MATCHER = HashtagMatcher(["#uemedef14", "#Paroles2CEO"])
V1 = JetstreamV1()


def _written() -> dict[str, Commit]:
    """The hand-written commits by rkey and operation."""
    found = {}
    for line in written():
        event = V1.parse(line)
        if isinstance(event, Commit):
            found[f"{event.rkey}:{event.operation}"] = event
    return found


def _post(rkey: str, operation: str = "create"):  # type: ignore[no-untyped-def]
    commit = _written()[f"{rkey}:{operation}"]
    return commit, normalise_post(commit, fallback_author(commit.did),
                                  edit=operation == "update")


def test_every_recorded_event_is_parsed_and_every_post_normalised() -> None:
    """Each of the 152 recorded events parses; each post record normalises without error."""
    kinds = {"commit": 0, "identity": 0, "account": 0}
    posts = 0
    for line in corpus():
        event = V1.parse(line)
        kinds[{Commit: "commit", Identity: "identity", Account: "account"}[type(event)]] += 1
        if isinstance(event, Commit) and event.collection == POST and event.record:
            post = normalise_post(event, fallback_author(event.did))
            assert post.id == f"bluesky:at://{event.did}/app.bsky.feed.post/{event.rkey}"
            assert post.permalink == f"https://bsky.app/profile/{event.did}/post/{event.rkey}"
            for entity in post.entities:
                assert post.text[entity.start:entity.end] == entity.text
            posts += 1
            MATCHER.matches(event.record)
    assert kinds == {"commit": 150, "identity": 1, "account": 1}
    assert posts == 17


def test_recorded_tag_facets_are_hashtag_entities_in_code_points() -> None:
    """The recorded posts' tag facets become hashtag entities covering `#tag` exactly."""
    tags = []
    for line in corpus():
        event = V1.parse(line)
        if isinstance(event, Commit) and event.collection == POST and event.record:
            post = normalise_post(event, fallback_author(event.did))
            tags += [e.text for e in post.entities if e.type == "hashtag"]
    assert {"#HowToTellAiToShutUp", "#IndieRebellion", "#talesatwonderworld",
            "#balanwonderworldoc"} <= set(tags)


@pytest.mark.parametrize(("rkey", "expected"), [
    ("3mwrit00002", [("mention", "@written-b.bsky.social"), ("hashtag", "#UEMedef14"),
                     ("url", "https://www.medef.com/fr")]),  # emoji before the tag
    ("3mwrit00005", [("hashtag", "#uemedef14")]),  # Japanese
    ("3mwrit00006", [("hashtag", "#UEMedef14"), ("url", "https://example.org/ru")]),  # Cyrillic
])
def test_byte_ranges_over_non_ascii_text_become_code_point_spans(rkey, expected) -> None:  # type: ignore[no-untyped-def]
    """Facets after emoji, kana or Cyrillic cover the right characters, counted in code points."""
    _commit, post = _post(rkey)
    assert [(e.type, e.text) for e in post.entities] == expected
    for entity in post.entities:
        assert post.text[entity.start:entity.end] == entity.text
    first = post.entities[0]
    assert first.start == post.text.index(first.text)


def test_a_range_cutting_a_character_in_two_is_ignored() -> None:
    """A facet whose byte range ends inside a multi-byte character gives no entity."""
    commit, _ = _post("3mwrit00005")
    record = dict(commit.record or {})
    record["facets"] = [{"index": {"byteStart": 1, "byteEnd": 4},
                         "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "x"}]}]
    post = normalise_post(Commit(commit.did, 1, Operation.CREATE, POST, "r", "c", record),
                          fallback_author(commit.did))
    assert [e.text for e in post.entities] == ["#uemedef14"]  # only the one typed in the text


@pytest.mark.parametrize(("rkey", "tags"), [
    ("3mwrit00001", ["uemedef14"]),  # tag facet
    ("3mwrit00002", ["uemedef14"]),  # #UEMedef14 facet
    ("3mwrit00003", ["paroles2ceo"]),  # record.tags only
    ("3mwrit00004", ["paroles2ceo"]),  # in the text only
    ("3mwrit00019", ["uemedef14"]),  # full-width letters and digits, NFKC
    ("3mwrit00018", []),  # #uemedef15 and a tag without '#'
])
def test_hashtags_match_in_facets_tags_and_text_after_folding(rkey, tags) -> None:  # type: ignore[no-untyped-def]
    """Facets, record.tags and the text are searched, compared after NFKC and case folding."""
    commit = _written()[f"{rkey}:create"]
    assert commit.record is not None
    assert MATCHER.matched(commit.record) == tags


def test_untagged_recorded_posts_do_not_match() -> None:
    """None of the recorded posts carries the event's hashtags."""
    for line in corpus():
        event = V1.parse(line)
        if isinstance(event, Commit) and event.record and event.collection == POST:
            assert not MATCHER.matches(event.record)


def test_images_use_the_cdn_with_alt_text() -> None:
    """Image blobs become CDN thumbnail and full-size URLs with their alt text and size."""
    commit, post = _post("3mwrit00011")
    first, second = post.media
    cid = commit.record["embed"]["images"][0]["image"]["ref"]["$link"]  # type: ignore[index]
    assert first.url == f"https://cdn.bsky.app/img/feed_fullsize/plain/{commit.did}/{cid}@jpeg"
    assert first.preview_url == (
        f"https://cdn.bsky.app/img/feed_thumbnail/plain/{commit.did}/{cid}@jpeg")
    assert first.alt_text == "Le pupitre & l'écran <géant>"
    assert (first.width, first.height) == (1200, 800)
    assert second.alt_text is None


def test_quotes_replies_cards_and_langs() -> None:
    """Quotes (record and recordWithMedia), replies, link cards and langs are kept."""
    _, quote = _post("3mwrit00009")
    assert quote.kind is Kind.QUOTE
    assert quote.extra["quote"]["id"].startswith("bluesky:at://did:plc:writtenauthorbbb")
    assert quote.extra["quote"]["permalink"].startswith("https://bsky.app/profile/")
    _, with_media = _post("3mwrit00010")
    assert with_media.kind is Kind.QUOTE and with_media.media[0].alt_text
    _, reply = _post("3mwrit00008")
    assert reply.kind is Kind.REPLY
    assert reply.extra["reply_to"]["uri"].endswith("/3mwrit00001")
    _, card = _post("3mwrit00012")
    assert card.extra["card"]["url"] == "https://www.medef.com/fr/evenements"
    assert card.extra["card"]["image"].startswith("https://cdn.bsky.app/img/feed_thumbnail/")
    _, japanese = _post("3mwrit00005")
    assert japanese.lang == "ja"


def test_self_labels_make_a_post_possibly_sensitive() -> None:
    """A self-labelled post is possibly sensitive, with its labels and a reason in extra."""
    _, post = _post("3mwrit00007")
    assert post.possibly_sensitive
    assert post.extra["labels"] == ["graphic-media"]
    assert "graphic-media" in post.extra["sensitive_reason"]
    _, plain = _post("3mwrit00001")
    assert not plain.possibly_sensitive


def test_an_update_is_an_edit_of_the_original() -> None:
    """An update gets its own id and points to the original post's id."""
    _, original = _post("3mwrit00001")
    _, edited = _post("3mwrit00001", "update")
    assert edited.edit_of == original.id
    assert edited.id != original.id and edited.id.startswith(original.id)


def test_a_repost_is_a_retweet_of_its_original() -> None:
    """A repost becomes a RETWEET referencing the original, as X retweets are."""
    commit = _written()["3mwritrp013:create"]
    assert commit.collection == REPOST
    _, original = _post("3mwrit00001")
    assert repost_subject(commit.record) == original.extra["uri"]
    repost = normalise_repost(commit, fallback_author(commit.did), original)
    assert repost.kind is Kind.RETWEET and repost.referenced is original


def test_the_subscribe_url_carries_collections_cursor_and_compression() -> None:
    """The v1 URL names the wanted collections, the cursor and compress=true."""
    url = V1.subscribe_url("jetstream1.us-east.bsky.network", [POST, REPOST], 1234, True)
    assert url == ("wss://jetstream1.us-east.bsky.network/subscribe?wantedCollections="
                   "app.bsky.feed.post&wantedCollections=app.bsky.feed.repost&cursor=1234"
                   "&compress=true")


@pytest.mark.parametrize("frame", [b"not json", b"[1]", b'{"did": 1, "time_us": 1}',
                                   b'{"did": "did:plc:x", "time_us": 1, "kind": "commit", '
                                   b'"commit": {"operation": "create", "collection": "c", '
                                   b'"rkey": "r"}}'])
def test_malformed_frames_are_refused_with_what_arrived(frame: bytes) -> None:
    """A frame that is not a v1 event raises MalformedFrame saying what was expected."""
    with pytest.raises(MalformedFrame, match="expected"):
        V1.parse(frame)


def test_the_shipped_dictionary_is_jetstreams() -> None:
    """hashwall ships the dictionary Jetstream v1 compresses with: its header carries the ID
    Jetstream's frames name (a frame names its dictionary's ID; another ID cannot read it)."""
    dictionary = shipped_dictionary()
    assert dictionary.startswith(b"\x37\xa4\x30\xec")
    assert dictionary_id(dictionary) == JETSTREAM_DICTIONARY_ID == 1612007021
    assert len(dictionary) == 112_640
    assert zstandard.ZstdCompressionDict(dictionary).dict_id() == JETSTREAM_DICTIONARY_ID


def test_compressed_frames_decode_with_jetstreams_dictionary() -> None:
    """Frames made as Jetstream makes them, with its dictionary, decode to the same events,
    and smaller than the JSON; a frame that is not zstd, or made with another dictionary,
    is a MalformedFrame that says what was expected."""
    lines = corpus() + written()
    compressor = JetstreamCompressor(shipped_dictionary())
    reader = JetstreamV1(FrameDecompressor(shipped_dictionary()))
    compressed = 0
    for line in lines:
        frame = compressor.compress(line)
        compressed += len(frame)
        assert reader.parse(frame) == V1.parse(line)
    assert compressed < sum(map(len, lines)) / 2
    with pytest.raises(MalformedFrame, match="zstd"):
        reader.parse(b"\x00" * 16)
    other = zstandard.train_dictionary(8192, list(lines * 4)).as_bytes()
    with pytest.raises(MalformedFrame, match="Jetstream dictionary"):
        reader.parse(JetstreamCompressor(other).compress(lines[0]))
    assert orjson.loads(lines[0])  # the corpus is plain JSON


def test_a_dictionary_setting_that_is_not_one_stops_at_start(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """HASHWALL_BLUESKY_ZSTD_DICTIONARY naming a missing file or a file that is not a zstd
    dictionary is a settings error naming the setting and what was found."""
    text = tmp_path / "dictionary.txt"
    text.write_text("not a dictionary")
    with pytest.raises(SettingsError, match=r"(?s)BLUESKY_ZSTD_DICTIONARY.*37 a4 30 ec.*6e 6f 74"):
        make_settings(bluesky_zstd_dictionary=str(text))
    with pytest.raises(SettingsError, match=r"(?s)BLUESKY_ZSTD_DICTIONARY.*readable"):
        make_settings(bluesky_zstd_dictionary=str(tmp_path / "missing"))
    mine = tmp_path / "mine.zdict"
    mine.write_bytes(shipped_dictionary())
    assert make_settings(bluesky_zstd_dictionary=str(mine)).bluesky_zstd_dictionary == mine


async def test_a_replay_file_of_jetstream_events_queues_the_posts(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A replay file headed `{"hashwall_replay": 1, "network": "bluesky"}` gives one post per
    post create or update, through the Bluesky normaliser."""
    from server.sources.replay import ReplaySource

    lines = written()
    path = tmp_path / "bluesky.jsonl"
    path.write_bytes(b'{"hashwall_replay": 1, "network": "bluesky"}\n' + b"\n".join(lines))
    posts: list = []  # type: ignore[type-arg]

    async def sink(post) -> None:  # type: ignore[no-untyped-def]
        posts.append(post)

    source = ReplaySource(path, sink, speed=0)
    await source.start()
    await asyncio.wait_for(source.done.wait(), 10)
    await source.stop()
    assert len(posts) == 16 and all(p.network == "bluesky" for p in posts)
    assert posts[0].id.startswith("bluesky:at://did:plc:written")
