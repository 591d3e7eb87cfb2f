"""Turn Mastodon Status entities (REST and streaming) into `Post`s (pure functions, no I/O)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from moderation.exceptions import MalformedPayload
from moderation.post import Author, Entity, Kind, Media, Post, post_id
from server.sources.mastodon.html_text import emoji_entities, html_to_text

NETWORK = "mastodon"
BLUESKY = "bluesky"
# A Bluesky post bridged into the fediverse by Bridgy Fed carries its at-uri in its uri.
BRIDGY_BLUESKY = "https://bsky.brid.gy/convert/ap/"
BRIDGY_DOMAIN = "bsky.brid.gy"
BLUESKY_PERMALINK = "https://bsky.app/profile/{did}/post/{rkey}"
# Who may see a status, from Mastodon's `visibility`: only these can reach a wall.
PUBLIC = "public"
UNLISTED = "unlisted"
_MEDIA_TYPES = {"image": "photo", "gifv": "animated_gif", "video": "video", "audio": "audio"}


def admissible(status: dict[str, Any], allow_unlisted: bool = False) -> bool:
    """Whether a status's author made it public enough for a wall: `public`, or `unlisted`
    when allowed; for a boost, the boosted status must be too."""
    allowed = (PUBLIC, UNLISTED) if allow_unlisted else (PUBLIC,)
    if status.get("visibility") not in allowed:
        return False
    reblog = status.get("reblog")
    return not isinstance(reblog, dict) or reblog.get("visibility") in allowed


def native_id(status: dict[str, Any]) -> str:
    """The id a status's post gets whichever server it was read from."""
    uri = _text(status, "uri")
    if uri.startswith(BRIDGY_BLUESKY + "at://"):
        return post_id(BLUESKY, uri[len(BRIDGY_BLUESKY):])
    edited_at = status.get("edited_at")
    if isinstance(edited_at, str) and edited_at:
        # Each version of an edited status is its own post in the queue, grouped under the
        # first one by `edit_of`, as X edits are.
        return post_id(NETWORK, f"{uri}#edited-{edited_at}")
    return post_id(NETWORK, uri)


def normalise_status(status: Any, server: str | None = None) -> Post:
    """Turn one Status (a dict, as the REST API or a streaming `update` sends it) into a
    Post; `server` is the host it was read from, the domain of local accounts."""
    return _status(status, server, depth=0)


def normalise_replayed(status: Any) -> Post | None:
    """A recorded status as the replay source takes it: None unless public."""
    if isinstance(status, dict) and not admissible(status):
        return None
    return normalise_status(status)


def _status(status: Any, server: str | None, depth: int) -> Post:
    if not isinstance(status, dict):
        raise MalformedPayload(f"Expected a Mastodon status (a JSON object), but got "
                               f"{_type_name(status)}")
    uri = _text(status, "uri")
    if not uri:
        raise MalformedPayload(f"Expected a status with a 'uri', but got keys {sorted(status)}")
    the_id = native_id(status)
    bridged = the_id.startswith(BLUESKY + ":")
    account = status.get("account")
    if not isinstance(account, dict):
        raise MalformedPayload(f"Expected status {uri} to have an 'account' object, but got "
                               f"{_type_name(account)}")
    author = _author(account, server, bridged)
    if bridged:
        # The author's DID, as the Bluesky source names them.
        author = Author(the_id.split("/")[2], author.handle, author.name, author.avatar_url)

    reblog = status.get("reblog")
    quote = _quoted(status)
    referenced: Post | None = None
    kind = Kind.ORIGINAL
    if isinstance(reblog, dict):
        kind = Kind.RETWEET
        referenced = _status(reblog, server, depth + 1) if depth == 0 else None
    elif quote is not None:
        kind = Kind.QUOTE
        referenced = _status(quote, server, depth + 1) if depth == 0 else None
    elif status.get("in_reply_to_id") is not None:
        kind = Kind.REPLY

    content = status.get("content")
    if not isinstance(content, str):
        raise MalformedPayload(f"Expected status {uri} to have 'content' (HTML), but got "
                               f"{_type_name(content)}")
    rich = html_to_text(content, drop_quote_inline=status.get("quote") is not None)
    emojis = _emojis(status.get("emojis"))
    entities: tuple[Entity, ...] = rich.entities
    extra_emoji = emoji_entities(rich.text, emojis, entities)
    if extra_emoji:
        entities = tuple(sorted(entities + extra_emoji, key=lambda e: (e.start, e.end)))

    spoiler = _text(status, "spoiler_text")
    sensitive = status.get("sensitive") is True
    extra: dict[str, Any] = {"visibility": status.get("visibility")}
    if spoiler:
        extra["content_warning"] = spoiler
    if spoiler or sensitive:
        extra["sensitive_reason"] = "content warning" if spoiler else "sensitive media"
    tags = [t.get("name") for t in _list(status.get("tags")) if isinstance(t, dict)]
    if tags:
        extra["tags"] = [t for t in tags if isinstance(t, str)]
    if server:
        extra["server"] = server
    if bridged:
        extra["via"] = NETWORK

    edited_at = status.get("edited_at")
    edit_of = None
    if isinstance(edited_at, str) and edited_at and not bridged:
        edit_of = post_id(NETWORK, uri)
    lang = status.get("language")
    return Post(
        id=the_id,
        network=BLUESKY if bridged else NETWORK,
        author=author,
        text=rich.text,
        created_at=_text(status, "created_at"),
        kind=kind,
        entities=entities,
        media=tuple(_media(m) for m in _list(status.get("media_attachments"))
                    if isinstance(m, dict)),
        lang=lang if isinstance(lang, str) and lang else None,
        permalink=_permalink(status, the_id, bridged),
        referenced=referenced,
        possibly_sensitive=bool(spoiler) or sensitive,
        edit_of=edit_of,
        extra=extra,
    )


def _quoted(status: dict[str, Any]) -> dict[str, Any] | None:
    """The status quoted (Mastodon 4.4+ `quote`), when its author accepted the quote."""
    quote = status.get("quote")
    if not isinstance(quote, dict):
        return None
    quoted = quote.get("quoted_status")
    if quote.get("state") == "accepted" and isinstance(quoted, dict):
        return quoted
    return None


def _author(account: dict[str, Any], server: str | None, bridged: bool) -> Author:
    """The author, with a handle that always names its server: `user@server`."""
    acct = _text(account, "acct") or _text(account, "username")
    if "@" not in acct:
        home = server or urlsplit(_text(account, "url")).hostname or ""
        acct = f"{acct}@{home}" if home else acct
    if bridged and acct.endswith("@" + BRIDGY_DOMAIN):
        acct = acct[: -len(BRIDGY_DOMAIN) - 1]  # the Bluesky handle itself
    name = _text(account, "display_name") or _text(account, "username")
    avatar = _text(account, "avatar_static") or _text(account, "avatar")
    return Author(
        id=_text(account, "uri") or _text(account, "url") or acct,
        handle=acct,
        name=name,
        avatar_url=avatar or None,
    )


def _permalink(status: dict[str, Any], the_id: str, bridged: bool) -> str | None:
    if bridged:
        # at://did/app.bsky.feed.post/rkey
        did, _, rkey = the_id[len(BLUESKY) + len(":at://"):].partition("/app.bsky.feed.post/")
        if did and rkey:
            return BLUESKY_PERMALINK.format(did=did, rkey=rkey)
    url = _text(status, "url") or _text(status, "uri")
    return url or None


def _media(attachment: dict[str, Any]) -> Media:
    """One attachment, with its preview, alt text and original size."""
    meta = attachment.get("meta")
    original = meta.get("original") if isinstance(meta, dict) else None
    width = original.get("width") if isinstance(original, dict) else None
    height = original.get("height") if isinstance(original, dict) else None
    url = _text(attachment, "url") or _text(attachment, "remote_url")
    preview = _text(attachment, "preview_url") or _text(attachment, "preview_remote_url")
    description = attachment.get("description")
    kind = str(attachment.get("type") or "unknown")
    return Media(
        type=_MEDIA_TYPES.get(kind, kind),
        url=url or None,
        preview_url=preview or None,
        alt_text=description if isinstance(description, str) and description else None,
        width=width if isinstance(width, int) and not isinstance(width, bool) else None,
        height=height if isinstance(height, int) and not isinstance(height, bool) else None,
    )


def _emojis(value: Any) -> dict[str, str]:
    """Custom emoji shortcode → image URL (the static one, for screens that do not move)."""
    found: dict[str, str] = {}
    for emoji in _list(value):
        if isinstance(emoji, dict):
            code = emoji.get("shortcode")
            url = emoji.get("static_url") or emoji.get("url")
            if isinstance(code, str) and code and isinstance(url, str) and url:
                found[code] = url
    return found


def _text(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    return value if isinstance(value, str) else ""


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number"}
    return names.get(type(value), type(value).__name__)
