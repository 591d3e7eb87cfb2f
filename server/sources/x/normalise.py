"""Turn X API v2 filtered-stream items into `Post`s (pure functions, no I/O)."""

from __future__ import annotations

import html
import logging
import re
from datetime import UTC, datetime
from typing import Any

from moderation.exceptions import MalformedPayload
from moderation.post import Author, Entity, Kind, Media, Post, post_id

logger = logging.getLogger(__name__)

NETWORK = "x"
PERMALINK = "https://x.com/{username}/status/{id}"
# Posts whose author is missing from `includes` still get a link that X resolves.
ANONYMOUS_PERMALINK = "https://x.com/i/web/status/{id}"
# X ids are snowflakes: milliseconds since this epoch, shifted left by 22 bits.
SNOWFLAKE_EPOCH_MS = 1288834974657

_KIND_BY_REFERENCE = {"retweeted": Kind.RETWEET, "quoted": Kind.QUOTE, "replied_to": Kind.REPLY}
# When a post references several others (a quote that is also a reply), the
# first type found in this order decides its kind.
_KIND_PRIORITY = ("retweeted", "quoted", "replied_to")
_ENTITY_KINDS = (("hashtags", "hashtag"), ("mentions", "mention"), ("urls", "url"))
_HTML_ENTITY = re.compile(r"&(?:[A-Za-z][A-Za-z0-9]*|#[0-9]+|#[xX][0-9A-Fa-f]+);")


def normalise_stream_item(item: dict[str, Any]) -> Post:
    """Turn one filtered-stream item (`data`, `includes`, `matching_rules`) into a Post."""
    if not isinstance(item, dict):
        raise MalformedPayload(
            f"Expected a stream item (a JSON object), but got {_type_name(item)}"
        )
    data = item.get("data")
    if data is None:
        errors = item.get("errors")
        if errors:
            raise MalformedPayload(
                "Expected a stream item with 'data', but got only errors: "
                + _describe_errors(errors)
            )
        raise MalformedPayload(f"Expected a stream item with 'data', but got keys {sorted(item)}")
    if isinstance(data, list):
        raise MalformedPayload(
            "Expected 'data' to be one post object, but got a list "
            "(a lookup page? use normalise_lookup_page first)"
        )
    includes = _as_dict(item.get("includes"), "includes")
    rules = normalise_matching_rules(item.get("matching_rules"))
    post = _normalise_tweet(data, _Includes(includes), depth=0)
    return _with_extra(post, {"matching_rules": rules})


def normalise_matching_rules(rules: Any) -> list[dict[str, str | None]]:
    """Accept rule ids as numbers or strings and tags as null, "" or a string."""
    if rules is None:
        return []
    if not isinstance(rules, list):
        raise MalformedPayload(
            f"Expected 'matching_rules' to be a list, but got {_type_name(rules)}"
        )
    normalised: list[dict[str, str | None]] = []
    for rule in rules:
        if (
            not isinstance(rule, dict)
            or not isinstance(rule.get("id"), (str, int))
            or isinstance(rule.get("id"), bool)
        ):
            raise MalformedPayload(
                f"Expected each matching rule to be an object with an 'id', but got {rule!r}"
            )
        tag = rule.get("tag")
        if tag is not None and not isinstance(tag, str):
            raise MalformedPayload(
                f"Expected a matching rule 'tag' to be a string or null, but got {_type_name(tag)}"
            )
        normalised.append({"id": str(rule["id"]), "tag": tag or None})
    return normalised


def normalise_lookup_page(
    page: dict[str, Any], matching_rules: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """Split a lookup page (`data` is a list) into stream items, one per post."""
    if not isinstance(page, dict):
        raise MalformedPayload(
            f"Expected a lookup page (a JSON object), but got {_type_name(page)}"
        )
    data = page.get("data")
    if not isinstance(data, list):
        raise MalformedPayload(
            f"Expected a lookup page whose 'data' is a list, but got {_type_name(data)}"
        )
    includes = _Includes(_as_dict(page.get("includes"), "includes"))
    rules = [dict(rule) for rule in (matching_rules or [])]
    return [
        {"data": tweet, "includes": includes.referenced_by(tweet), "matching_rules": rules}
        for tweet in data
        if isinstance(tweet, dict)
    ]


class _Includes:
    """The `includes` of one item, indexed by id and media key."""

    def __init__(self, includes: dict[str, Any]) -> None:
        self.users = _index(includes, "users", "id")
        self.media = _index(includes, "media", "media_key")
        self.tweets = _index(includes, "tweets", "id")

    def referenced_by(self, tweet: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
        """The subset of these includes that one post references, as the stream sends it."""
        tweets = [self.tweets[ref_id] for ref_id in _referenced_ids(tweet) if ref_id in self.tweets]
        user_ids = [str(tweet.get("author_id")), str(tweet.get("in_reply_to_user_id"))]
        user_ids += [str(t.get("author_id")) for t in tweets]
        mentioned = {
            str(m.get("username", "")).lower()
            for m in _entity_list(tweet, "mentions")
            if isinstance(m, dict)
        }
        users = [u for uid, u in self.users.items() if uid in user_ids]
        users += [
            u
            for uid, u in self.users.items()
            if uid not in user_ids and str(u.get("username", "")).lower() in mentioned
        ]
        media_keys = _media_keys(tweet) + [k for t in tweets for k in _media_keys(t)]
        media = [self.media[k] for k in dict.fromkeys(media_keys) if k in self.media]
        out: dict[str, list[dict[str, Any]]] = {}
        for key, values in (("users", users), ("media", media), ("tweets", tweets)):
            if values:
                out[key] = values
        return out


def _normalise_tweet(data: Any, includes: _Includes, depth: int) -> Post:
    """Build a Post from one tweet object and the includes that came with it."""
    if not isinstance(data, dict):
        raise MalformedPayload(f"Expected a post object, but got {_type_name(data)}")
    native_id = data.get("id")
    if isinstance(native_id, bool) or not isinstance(native_id, (str, int)) or native_id == "":
        raise MalformedPayload(f"Expected a post 'id' (a string of digits), but got {native_id!r}")
    native_id = str(native_id)
    raw_text, raw_entities = _text_and_entities(data, native_id)
    text, entities = _unescape_with_entities(raw_text, raw_entities)

    author_id = data.get("author_id")
    author_id = "" if author_id is None else str(author_id)
    user = includes.users.get(author_id)
    author = _author(user, author_id)
    if author.handle:
        permalink = PERMALINK.format(username=author.handle, id=native_id)
    else:
        permalink = ANONYMOUS_PERMALINK.format(id=native_id)

    kind, referenced_id = _kind(data)
    referenced = None
    if referenced_id is not None and kind in (Kind.RETWEET, Kind.QUOTE) and depth == 0:
        ref_data = includes.tweets.get(referenced_id)
        if ref_data is not None:
            referenced = _normalise_tweet(ref_data, includes, depth=depth + 1)

    history = data.get("edit_history_tweet_ids")
    edit_of = None
    if isinstance(history, list) and history and str(history[0]) != native_id:
        edit_of = post_id(NETWORK, str(history[0]))

    lang = data.get("lang")
    return Post(
        id=post_id(NETWORK, native_id),
        network=NETWORK,
        author=author,
        text=text,
        created_at=_created_at(data.get("created_at"), native_id),
        kind=kind,
        entities=entities,
        media=tuple(_media(includes, key) for key in _media_keys(data) if key in includes.media),
        lang=lang if isinstance(lang, str) else None,
        permalink=permalink,
        referenced=referenced,
        possibly_sensitive=data.get("possibly_sensitive") is True,
        edit_of=edit_of,
    )


def _text_and_entities(data: dict[str, Any], native_id: str) -> tuple[str, dict[str, Any]]:
    """The full text (from `note_tweet` for long posts) and the entities counted on it."""
    note = data.get("note_tweet")
    if isinstance(note, dict) and isinstance(note.get("text"), str) and note["text"]:
        return note["text"], _as_dict(note.get("entities"), "note_tweet.entities")
    text = data.get("text")
    if not isinstance(text, str):
        raise MalformedPayload(
            f"Expected post {native_id} to have a 'text' string, but got {_type_name(text)}"
        )
    return text, _as_dict(data.get("entities"), "entities")


def _unescape_with_entities(
    raw: str, raw_entities: dict[str, Any]
) -> tuple[str, tuple[Entity, ...]]:
    """HTML-unescape the text and move each entity span onto the unescaped text."""
    parts: list[str] = []
    # position[i] is where the code point at raw index i lands in the unescaped text.
    position: list[int] = []
    cursor = 0
    length = 0
    for match in _HTML_ENTITY.finditer(raw):
        chunk = raw[cursor : match.start()]
        position.extend(range(length, length + len(chunk)))
        parts.append(chunk)
        length += len(chunk)
        replacement = html.unescape(match.group())
        position.extend([length] * (match.end() - match.start()))
        parts.append(replacement)
        length += len(replacement)
        cursor = match.end()
    tail = raw[cursor:]
    position.extend(range(length, length + len(tail)))
    parts.append(tail)
    length += len(tail)
    position.append(length)
    text = "".join(parts)

    entities: list[Entity] = []
    taken: set[tuple[int, int]] = set()
    for key, kind in _ENTITY_KINDS:
        for raw_entity in _as_list(raw_entities.get(key), f"entities.{key}"):
            entity = _place_entity(kind, raw_entity, raw, text, position, taken)
            if entity is not None:
                taken.add((entity.start, entity.end))
                entities.append(entity)
    entities.sort(key=lambda e: (e.start, e.end))
    return text, tuple(entities)


def _place_entity(
    kind: str,
    raw_entity: Any,
    raw: str,
    text: str,
    position: list[int],
    taken: set[tuple[int, int]],
) -> Entity | None:
    """Find where one entity sits in the unescaped text, checking its content."""
    if not isinstance(raw_entity, dict):
        raise MalformedPayload(f"Expected a {kind} entity object, but got {_type_name(raw_entity)}")
    start, end = raw_entity.get("start"), raw_entity.get("end")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, end)):
        raise MalformedPayload(
            f"Expected integer 'start' and 'end' in a {kind} entity, but got {start!r} and {end!r}"
        )
    assert isinstance(start, int) and isinstance(end, int)
    candidates: list[tuple[int, int]] = []
    # The API counts offsets on the text it sends, which is HTML-escaped.
    if 0 <= start <= end <= len(raw):
        candidates.append((position[start], position[end]))
    # Some payloads count on the unescaped text: accept those offsets when they fit.
    candidates.append((start, end))
    for s, e in candidates:
        fits = 0 <= s < e <= len(text) and (s, e) not in taken
        if fits and _matches(kind, raw_entity, text[s:e]):
            return _entity(kind, raw_entity, s, e, text)
    # Offsets that point nowhere useful (a truncated retweet): look for the span itself.
    wanted = _expected_span(kind, raw_entity)
    if wanted:
        found = text.find(wanted)
        while found != -1:
            span = (found, found + len(wanted))
            if span not in taken:
                return _entity(kind, raw_entity, span[0], span[1], text)
            found = text.find(wanted, found + 1)
    logger.debug("Dropped a %s entity that matches no span of the text: %r", kind, raw_entity)
    return None


def _matches(kind: str, raw_entity: dict[str, Any], span: str) -> bool:
    """Whether a span of the text is the entity it claims to be."""
    if kind == "url":
        return span == raw_entity.get("url")
    name = raw_entity.get("tag") if kind == "hashtag" else raw_entity.get("username")
    sigils = "#＃" if kind == "hashtag" else "@＠"
    return (
        isinstance(name, str)
        and len(span) > 1
        and span[0] in sigils
        and span[1:].casefold() == name.casefold()
    )


def _expected_span(kind: str, raw_entity: dict[str, Any]) -> str | None:
    """The text an entity should cover, when it is known."""
    if kind == "url":
        url = raw_entity.get("url")
        return url if isinstance(url, str) else None
    name = raw_entity.get("tag") if kind == "hashtag" else raw_entity.get("username")
    if not isinstance(name, str) or not name:
        return None
    return ("#" if kind == "hashtag" else "@") + name


def _entity(kind: str, raw_entity: dict[str, Any], start: int, end: int, text: str) -> Entity:
    """An Entity whose text is exactly the span it covers."""
    if kind != "url":
        return Entity(type=kind, start=start, end=end, text=text[start:end])
    expanded = raw_entity.get("expanded_url") or raw_entity.get("unwound_url")
    display = raw_entity.get("display_url")
    return Entity(
        type=kind,
        start=start,
        end=end,
        text=text[start:end],
        url=expanded if isinstance(expanded, str) else raw_entity.get("url"),
        display=display if isinstance(display, str) else None,
    )


def _author(user: dict[str, Any] | None, author_id: str) -> Author:
    """The author from `includes.users`, or a placeholder that keeps the author id."""
    if user is None:
        return Author(id=author_id, handle="", name="")
    username = user.get("username")
    name = user.get("name")
    avatar = user.get("profile_image_url")
    return Author(
        id=author_id,
        handle=username if isinstance(username, str) else "",
        name=name if isinstance(name, str) else (username if isinstance(username, str) else ""),
        avatar_url=avatar if isinstance(avatar, str) and avatar else None,
        verified=user.get("verified") is True,
    )


def _kind(data: dict[str, Any]) -> tuple[Kind, str | None]:
    """The kind of a post and the id of the post it retweets, quotes or answers."""
    refs = _as_list(data.get("referenced_tweets"), "referenced_tweets")
    by_type = {
        ref.get("type"): str(ref.get("id"))
        for ref in refs
        if isinstance(ref, dict) and ref.get("id") is not None
    }
    for ref_type in _KIND_PRIORITY:
        if ref_type in by_type:
            return _KIND_BY_REFERENCE[ref_type], by_type[ref_type]
    return Kind.ORIGINAL, None


def _media(includes: _Includes, key: str) -> Media:
    """One attachment from `includes.media`."""
    m = includes.media[key]
    preview = m.get("preview_image_url")
    url = m.get("url") or preview
    variants = m.get("variants")
    return Media(
        type=str(m.get("type") or "photo"),
        url=url if isinstance(url, str) else None,
        preview_url=preview if isinstance(preview, str) else None,
        alt_text=m.get("alt_text") if isinstance(m.get("alt_text"), str) else None,
        width=m.get("width") if isinstance(m.get("width"), int) else None,
        height=m.get("height") if isinstance(m.get("height"), int) else None,
        variants=tuple(dict(v) for v in variants if isinstance(v, dict))
        if isinstance(variants, list)
        else (),
    )


def _created_at(value: Any, native_id: str) -> str:
    """The creation time the API sent, or the one encoded in the snowflake id."""
    if isinstance(value, str) and value:
        return value
    if native_id.isdigit():
        ms = (int(native_id) >> 22) + SNOWFLAKE_EPOCH_MS
        moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
    return ""


def _with_extra(post: Post, extra: dict[str, Any]) -> Post:
    """A copy of a frozen post with `extra` set."""
    fields = {name: getattr(post, name) for name in Post.__dataclass_fields__}
    fields["extra"] = extra
    return Post(**fields)


def _referenced_ids(tweet: dict[str, Any]) -> list[str]:
    """Ids of the posts a post references or that belong to its edit history."""
    ids = [
        str(ref.get("id"))
        for ref in tweet.get("referenced_tweets") or ()
        if isinstance(ref, dict) and ref.get("id") is not None
    ]
    own = str(tweet.get("id"))
    ids += [str(i) for i in tweet.get("edit_history_tweet_ids") or () if str(i) != own]
    return list(dict.fromkeys(ids))


def _media_keys(tweet: dict[str, Any]) -> list[str]:
    """The media keys a post has attached."""
    attachments = tweet.get("attachments")
    if not isinstance(attachments, dict):
        return []
    keys = attachments.get("media_keys")
    return [str(k) for k in keys] if isinstance(keys, list) else []


def _entity_list(tweet: dict[str, Any], key: str) -> list[Any]:
    """One list of entities of a post, or an empty list."""
    entities = tweet.get("entities")
    if not isinstance(entities, dict):
        return []
    values = entities.get(key)
    return values if isinstance(values, list) else []


def _index(includes: dict[str, Any], key: str, id_key: str) -> dict[str, dict[str, Any]]:
    """Index one list of `includes` by its id field."""
    return {
        str(obj[id_key]): obj
        for obj in _as_list(includes.get(key), f"includes.{key}")
        if isinstance(obj, dict) and obj.get(id_key) is not None
    }


def _as_dict(value: Any, where: str) -> dict[str, Any]:
    """A JSON object, None as empty, anything else is malformed."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MalformedPayload(f"Expected '{where}' to be an object, but got {_type_name(value)}")
    return value


def _as_list(value: Any, where: str) -> list[Any]:
    """A JSON array, None as empty, anything else is malformed."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedPayload(f"Expected '{where}' to be a list, but got {_type_name(value)}")
    return value


def _describe_errors(errors: Any) -> str:
    """A short human summary of an `errors` list."""
    if not isinstance(errors, list):
        return repr(errors)
    parts = []
    for error in errors:
        if isinstance(error, dict):
            parts.append(str(error.get("title") or error.get("type") or error))
            if error.get("detail"):
                parts[-1] += f" ({error['detail']})"
        else:
            parts.append(repr(error))
    return "; ".join(parts)


def _type_name(value: Any) -> str:
    """How a JSON value is called in an error message."""
    if value is None:
        return "null"
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number"}
    return names.get(type(value), type(value).__name__)
