"""Bluesky post records → `Post`: pure functions of a Jetstream commit and its author.

Facet ranges are UTF-8 byte offsets into the text; `Post` counts code points, so every
range is converted (an emoji is 4 bytes and 1 code point, a kana 3 bytes, Cyrillic 2).
"""

from __future__ import annotations

import datetime
from typing import Any

from moderation.post import Author, Entity, Kind, Media, Post, post_id
from server.sources.bluesky.events import POST, Commit
from server.sources.bluesky.matcher import TAG_FEATURE, TEXT_TAG

NETWORK = "bluesky"
CDN = "https://cdn.bsky.app/img/{size}/plain/{did}/{cid}@jpeg"
VIDEO = "https://video.bsky.app/watch/{did}/{cid}/{file}"
PERMALINK = "https://bsky.app/profile/{did}/post/{rkey}"
PROFILE = "https://bsky.app/profile/{did}"
MENTION_FEATURE = "app.bsky.richtext.facet#mention"
LINK_FEATURE = "app.bsky.richtext.facet#link"


def post_uri(did: str, rkey: str) -> str:
    """The at-uri of a post: `at://<did>/app.bsky.feed.post/<rkey>`."""
    return f"at://{did}/{POST}/{rkey}"


def id_of(uri: str) -> str:
    """The hashwall id of the post at `uri`: `bluesky:at://…` (a bridged copy gets it too)."""
    return post_id(NETWORK, uri)


def version_id(uri: str, cid: str | None) -> str:
    """The id of an updated version of a post: its id and the new record's CID."""
    return f"{id_of(uri)}:{cid or 'update'}"


def permalink_of(uri: str) -> str | None:
    """The bsky.app page of the post at `uri`, or None for what is not a post at-uri."""
    parts = uri.removeprefix("at://").split("/")
    if len(parts) != 3 or parts[1] != POST:
        return None
    return PERMALINK.format(did=parts[0], rkey=parts[2])


def fallback_author(did: str, handle: str | None = None) -> Author:
    """The author shown when no profile could be read: the handle the DID document names,
    else the DID itself."""
    return Author(id=did, handle=handle or did, name=handle or did)


def normalise_post(commit: Commit, author: Author, *, edit: bool = False) -> Post:
    """The post a `create` (or, with `edit`, an `update`) commit of a post record made."""
    record = commit.record or {}
    uri = commit.uri
    text = record.get("text")
    text = text if isinstance(text, str) else ""
    entities = _entities(text, record.get("facets"))
    extra: dict[str, Any] = {"uri": uri, "cid": commit.cid}
    langs = [lang for lang in record.get("langs") or () if isinstance(lang, str)]
    if langs:
        extra["langs"] = langs
    kind = Kind.ORIGINAL
    reply = record.get("reply")
    if isinstance(reply, dict):
        parent, root = _ref(reply.get("parent")), _ref(reply.get("root"))
        if parent is not None:
            kind = Kind.REPLY
            extra["reply_to"] = parent
            if root is not None and root["uri"] != parent["uri"]:
                extra["thread_root"] = root
    media, card, quote = _embed(commit.did, record.get("embed"))
    if quote is not None:
        extra["quote"] = quote
        if kind is Kind.ORIGINAL:
            kind = Kind.QUOTE
    if card is not None:
        extra["card"] = card
    labels = _self_labels(record.get("labels"))
    if labels:
        extra["labels"] = labels
        extra["sensitive_reason"] = "self-labelled " + ", ".join(labels)
    return Post(
        id=version_id(uri, commit.cid) if edit else id_of(uri),
        network=NETWORK,
        author=author,
        text=text,
        created_at=_created_at(record.get("createdAt"), commit.time_us),
        kind=kind,
        entities=entities,
        media=media,
        lang=langs[0] if langs else None,
        permalink=PERMALINK.format(did=commit.did, rkey=commit.rkey),
        possibly_sensitive=bool(labels),
        edit_of=id_of(uri) if edit else None,
        extra=extra,
    )


def normalise_repost(commit: Commit, author: Author, original: Post) -> Post:
    """A repost of `original`: counted toward it, never shown itself (as an X retweet)."""
    record = commit.record or {}
    return Post(
        id=id_of(commit.uri),
        network=NETWORK,
        author=author,
        text=original.text,
        created_at=_created_at(record.get("createdAt"), commit.time_us),
        kind=Kind.RETWEET,
        referenced=original,
        extra={"uri": commit.uri, "cid": commit.cid},
    )


def repost_subject(record: dict[str, Any] | None) -> str | None:
    """The at-uri a repost record points to, or None."""
    subject = record.get("subject") if isinstance(record, dict) else None
    uri = subject.get("uri") if isinstance(subject, dict) else None
    return uri if isinstance(uri, str) else None


def _entities(text: str, facets: Any) -> tuple[Entity, ...]:
    found: list[Entity] = []
    if isinstance(facets, list) and facets:
        data = text.encode("utf-8")
        same = len(data) == len(text)  # ASCII: bytes are code points
        taken = -1
        for start, end, feature in sorted(_features(facets, len(data)), key=lambda f: f[0]):
            if start < taken:
                continue  # overlapping facets: the first one wins
            if not same:
                try:
                    cp_start = len(data[:start].decode("utf-8"))
                    cp_end = cp_start + len(data[start:end].decode("utf-8"))
                except UnicodeDecodeError:
                    continue  # a range cutting a character in two is not a facet
                start, end = cp_start, cp_end
            entity = _entity(feature, start, end, text)
            if entity is not None:
                found.append(entity)
                taken = end if same else len(text[:end].encode("utf-8"))
    if "#" in text or "＃" in text:
        tagged = [(e.start, e.end) for e in found]
        for match in TEXT_TAG.finditer(text):
            start, end = match.start(), match.end()
            if not any(s < end and start < e for s, e in tagged):
                found.append(Entity(type="hashtag", start=start, end=end, text=text[start:end]))
        found.sort(key=lambda e: e.start)
    return tuple(found)


def _features(facets: list[Any], size: int) -> list[tuple[int, int, dict[str, Any]]]:
    spans = []
    for facet in facets:
        if not isinstance(facet, dict):
            continue
        index, features = facet.get("index"), facet.get("features")
        if not isinstance(index, dict) or not isinstance(features, list) or not features:
            continue
        start, end = index.get("byteStart"), index.get("byteEnd")
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= size):
            continue
        feature = features[0]
        if isinstance(feature, dict):
            spans.append((start, end, feature))
    return spans


def _entity(feature: dict[str, Any], start: int, end: int, text: str) -> Entity | None:
    kind, span = feature.get("$type"), text[start:end]
    if kind == TAG_FEATURE:
        return Entity(type="hashtag", start=start, end=end, text=span)
    if kind == MENTION_FEATURE and isinstance(feature.get("did"), str):
        return Entity(type="mention", start=start, end=end, text=span,
                      url=PROFILE.format(did=feature["did"]))
    if kind == LINK_FEATURE and _web(feature.get("uri")):
        return Entity(type="url", start=start, end=end, text=span, url=feature["uri"],
                      display=span)
    return None


def _embed(did: str, embed: Any) -> tuple[tuple[Media, ...], dict[str, Any] | None,
                                          dict[str, Any] | None]:
    """Images (or a video), a link card and a quoted post from a record's embed."""
    if not isinstance(embed, dict):
        return (), None, None
    kind = embed.get("$type")
    if kind == "app.bsky.embed.images":
        return _images(did, embed.get("images")), None, None
    if kind == "app.bsky.embed.video":
        return _video(did, embed), None, None
    if kind == "app.bsky.embed.external":
        return (), _card(did, embed.get("external")), None
    if kind == "app.bsky.embed.record":
        return (), None, _ref(embed.get("record"))
    if kind == "app.bsky.embed.recordWithMedia":
        media, card, _ = _embed(did, embed.get("media"))
        inner = embed.get("record")
        quote = _ref(inner.get("record")) if isinstance(inner, dict) else None
        return media, card, quote
    return (), None, None


def _images(did: str, images: Any) -> tuple[Media, ...]:
    found = []
    for image in images if isinstance(images, list) else ():
        if not isinstance(image, dict):
            continue
        cid = _blob_cid(image.get("image"))
        if cid is None:
            continue
        alt = image.get("alt")
        width, height = _aspect(image.get("aspectRatio"))
        found.append(Media(
            type="photo",
            url=CDN.format(size="feed_fullsize", did=did, cid=cid),
            preview_url=CDN.format(size="feed_thumbnail", did=did, cid=cid),
            alt_text=alt if isinstance(alt, str) and alt else None,
            width=width, height=height,
        ))
    return tuple(found)


def _video(did: str, embed: dict[str, Any]) -> tuple[Media, ...]:
    cid = _blob_cid(embed.get("video"))
    if cid is None:
        return ()
    alt = embed.get("alt")
    width, height = _aspect(embed.get("aspectRatio"))
    return (Media(
        type="video",
        url=VIDEO.format(did=did, cid=cid, file="playlist.m3u8"),
        preview_url=VIDEO.format(did=did, cid=cid, file="thumbnail.jpg"),
        alt_text=alt if isinstance(alt, str) and alt else None,
        width=width, height=height,
    ),)


def _card(did: str, external: Any) -> dict[str, Any] | None:
    if not isinstance(external, dict) or not _web(external.get("uri")):
        return None
    thumb = _blob_cid(external.get("thumb"))
    return {
        "url": external["uri"],
        "title": external.get("title") if isinstance(external.get("title"), str) else "",
        "description": (external.get("description")
                        if isinstance(external.get("description"), str) else ""),
        "image": CDN.format(size="feed_thumbnail", did=did, cid=thumb) if thumb else None,
    }


def _ref(ref: Any) -> dict[str, Any] | None:
    """A strong reference to another record: its uri, hashwall id and page."""
    uri = ref.get("uri") if isinstance(ref, dict) else None
    if not isinstance(uri, str) or not uri.startswith("at://"):
        return None
    return {"uri": uri, "id": id_of(uri), "permalink": permalink_of(uri)}


def _blob_cid(blob: Any) -> str | None:
    if not isinstance(blob, dict):
        return None
    ref = blob.get("ref")
    link = ref.get("$link") if isinstance(ref, dict) else blob.get("cid")  # legacy blobs
    return link if isinstance(link, str) and link.isalnum() else None


def _aspect(ratio: Any) -> tuple[int | None, int | None]:
    if isinstance(ratio, dict):
        width, height = ratio.get("width"), ratio.get("height")
        if isinstance(width, int) and isinstance(height, int):
            return width, height
    return None, None


def _self_labels(labels: Any) -> list[str]:
    values = labels.get("values") if isinstance(labels, dict) else None
    return [v["val"] for v in values or () if isinstance(v, dict) and isinstance(v.get("val"), str)]


def _web(uri: Any) -> bool:
    return isinstance(uri, str) and uri.startswith(("https://", "http://"))


def _created_at(value: Any, time_us: int) -> str:
    if isinstance(value, str) and value:
        return value
    moment = datetime.datetime.fromtimestamp(time_us / 1e6, tz=datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def normalise_stream_item(item: Any) -> Post | None:
    """A replayed Jetstream v1 event → the post it created or updated, or None (reposts,
    deletes, likes, identities…); the author is known by DID only."""
    from moderation.exceptions import MalformedPayload
    from server.sources.bluesky.exceptions import MalformedFrame
    from server.sources.bluesky.protocol import event_from_v1

    if not isinstance(item, dict):
        raise MalformedPayload(f"expected a Jetstream event object, got {type(item).__name__}")
    try:
        event = event_from_v1(item)
    except MalformedFrame as exc:
        raise MalformedPayload(str(exc)) from None
    if not isinstance(event, Commit) or event.collection != POST or event.record is None:
        return None
    return normalise_post(event, fallback_author(event.did))
