"""What moderators control besides posts: the mode, the pause, the pinned post, announcements."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from moderation.exceptions import DecisionConflict, InvalidAction
from moderation.post import Author, Kind, Post, Status
from moderation.wire import MessageType

ANNOUNCEMENT_NETWORK = "hashwall"
ANNOUNCEMENT_MAX = 280

Events = list[tuple[str, dict[str, Any]]]


class Mode(enum.StrEnum):
    """Pre-moderation (nothing shown until approved) or post-moderation (shown unless held)."""

    PRE = "pre"
    POST = "post"

    @classmethod
    def parse(cls, value: Any) -> Mode:
        """The mode named `value`, or `InvalidAction` naming the modes."""
        try:
            return cls(value)
        except ValueError:
            raise InvalidAction(f"expected mode pre or post, got {value!r}") from None


@dataclass(frozen=True, slots=True)
class WallState:
    """The persisted switches of the wall."""

    mode: Mode = Mode.PRE
    paused: bool = False
    pinned: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready form sent to moderators."""
        return {"mode": self.mode.value, "paused": self.paused, "pinned": self.pinned}


class Snapshot(tuple[int, list[Post]]):
    """`(seq, posts)` as every screen starts from, also carrying the pinned post and the pause.

    It unpacks as the pair it always was, so `seq, posts = await store.snapshot(n)` works.
    """

    pinned: Post | None
    paused: bool
    shares: dict[str, int]  # post id -> the share count screens show, for shared posts only

    def __new__(cls, seq: int, posts: list[Post], pinned: Post | None = None,
                paused: bool = False, shares: dict[str, int] | None = None) -> Snapshot:
        self = super().__new__(cls, (seq, posts))
        self.pinned = pinned
        self.paused = paused
        self.shares = shares or {}
        return self

    @property
    def seq(self) -> int:
        """The last public sequence number the snapshot includes."""
        return self[0]

    @property
    def posts(self) -> list[Post]:
        """The newest approved posts, newest first."""
        return self[1]


def plan_pin(post: Post, status: Status, pinned: str | None, moderator: str) -> Events:
    """The events of pinning a post: only an approved post; nothing when it is already pinned."""
    if status is not Status.APPROVED:
        raise DecisionConflict(f"cannot pin post {post.id}: it is {status.value}, not approved")
    if pinned == post.id:
        return []
    return [(MessageType.POST_PINNED,
             {"id": post.id, "post": post.to_dict(), "moderator": moderator})]


def plan_unpin(pinned: str | None, moderator: str) -> Events:
    """The events of emptying the featured place; nothing when it is already empty."""
    if pinned is None:
        return []
    return [(MessageType.POST_UNPINNED, {"id": pinned, "moderator": moderator})]


def plan_pause(paused_now: bool, paused: bool, moderator: str) -> Events:
    """The events of pausing or resuming the wall; nothing when it is already so."""
    if paused_now == paused:
        return []
    kind = MessageType.WALL_PAUSED if paused else MessageType.WALL_RESUMED
    return [(kind, {"moderator": moderator})]


def plan_mode(mode_now: Mode, mode: Mode, moderator: str) -> Events:
    """The moderation event of a mode switch; nothing when the mode is already so."""
    if mode_now is mode:
        return []
    return [(MessageType.WALL_MODE, {"mode": mode.value, "moderator": moderator})]


def make_announcement(text: Any, key: str, author_name: str, created_at: str) -> Post:
    """A moderator-authored post; the same `key` gives the same id, so a re-send is a no-op."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidAction("expected the announcement's text, got nothing")
    text = text.strip()
    if len(text) > ANNOUNCEMENT_MAX:
        raise InvalidAction(
            f"expected an announcement of at most {ANNOUNCEMENT_MAX} characters, got {len(text)}"
        )
    if not key or len(key) > 64 or not all(ch.isalnum() or ch in "-_." for ch in key):
        raise InvalidAction(f"expected a key of letters, digits, '-', '_' or '.', got {key!r}")
    return Post(
        id=f"{ANNOUNCEMENT_NETWORK}:{key}",
        network=ANNOUNCEMENT_NETWORK,
        author=Author(id=ANNOUNCEMENT_NETWORK, handle=ANNOUNCEMENT_NETWORK, name=author_name),
        text=text,
        created_at=created_at,
        kind=Kind.ANNOUNCEMENT,
    )
