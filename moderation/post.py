"""The one `Post` shape every source is normalised into."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Kind(enum.StrEnum):
    """What a post is in relation to other posts."""

    ORIGINAL = "original"
    REPLY = "reply"
    QUOTE = "quote"
    RETWEET = "retweet"
    ANNOUNCEMENT = "announcement"


class Status(enum.StrEnum):
    """Where a post stands in the moderation queue."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    HIDDEN = "hidden"


@dataclass(frozen=True, slots=True)
class Author:
    """Who wrote a post."""

    id: str
    handle: str
    name: str
    avatar_url: str | None = None
    verified: bool = False


@dataclass(frozen=True, slots=True)
class Entity:
    """A span of the text, counted in code points: hashtag, mention or url."""

    type: str
    start: int
    end: int
    text: str
    url: str | None = None
    display: str | None = None


@dataclass(frozen=True, slots=True)
class Media:
    """An image, video or animated GIF attached to a post."""

    type: str
    url: str | None
    preview_url: str | None = None
    alt_text: str | None = None
    width: int | None = None
    height: int | None = None
    variants: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class Post:
    """A post from any source, as the queue, the rules and the screens see it."""

    id: str
    network: str
    author: Author
    text: str
    created_at: str
    kind: Kind = Kind.ORIGINAL
    entities: tuple[Entity, ...] = ()
    media: tuple[Media, ...] = ()
    lang: str | None = None
    permalink: str | None = None
    referenced: Post | None = None
    possibly_sensitive: bool = False
    edit_of: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready form used on the wire and in the store."""
        # Written out rather than dataclasses.asdict, whose deep recursion was the largest
        # single cost of ingest.
        return {
            "id": self.id,
            "network": self.network,
            "author": _flat(self.author),
            "text": self.text,
            "created_at": self.created_at,
            "kind": self.kind.value,
            "entities": [_flat(e) for e in self.entities],
            "media": [{**_flat(m), "variants": [dict(v) for v in m.variants]} for m in self.media],
            "lang": self.lang,
            "permalink": self.permalink,
            "referenced": self.referenced.to_dict() if self.referenced is not None else None,
            "possibly_sensitive": self.possibly_sensitive,
            "edit_of": self.edit_of,
            "extra": _json_copy(self.extra),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Post:
        """Rebuild a post from `to_dict` output."""
        referenced = data.get("referenced")
        return cls(
            id=data["id"],
            network=data["network"],
            author=Author(**data["author"]),
            text=data["text"],
            created_at=data["created_at"],
            kind=Kind(data.get("kind", Kind.ORIGINAL.value)),
            entities=tuple(Entity(**e) for e in data.get("entities", ())),
            media=tuple(
                Media(**{**m, "variants": tuple(m.get("variants", ()))})
                for m in data.get("media", ())
            ),
            lang=data.get("lang"),
            permalink=data.get("permalink"),
            referenced=cls.from_dict(referenced) if referenced else None,
            possibly_sensitive=bool(data.get("possibly_sensitive", False)),
            edit_of=data.get("edit_of"),
            extra=dict(data.get("extra", {})),
        )


def post_id(network: str, native_id: str | int) -> str:
    """The stable, network-namespaced id of a post: `x:1377650090978992134`."""
    return f"{network}:{native_id}"


def _json_copy(value: Any) -> Any:
    """A copy of JSON data (dicts, lists, scalars): what copy.deepcopy gives, without its
    bookkeeping, which was a tenth of the cost of queueing a post."""
    if isinstance(value, dict):
        return {k: _json_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_copy(v) for v in value]
    return value


def _flat(obj: Author | Entity | Media) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__slots__}
