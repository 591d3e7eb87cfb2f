"""Every websocket message type, defined once; mirrored by wall_ui/js/protocol.js."""

from __future__ import annotations

from typing import Any

from moderation import jsoncodec
from moderation.post import Post
from moderation.queue import QueueItem

# Server to every screen (/ws).
SNAPSHOT = "snapshot"
POST_SHOWN = "post.shown"
POST_RETRACTED = "post.retracted"

# Server to moderators (/ws/moderate).
QUEUE_SNAPSHOT = "queue.snapshot"
QUEUE_ADDED = "queue.added"
QUEUE_DECIDED = "queue.decided"
ACK = "ack"
ERROR = "error"

# Moderators to server (/ws/moderate).
DECIDE = "decide"


def encode(message: dict[str, Any]) -> str:
    """The one JSON encoding of a message, done once however many clients receive it."""
    return jsoncodec.dumps(message)


def snapshot(seq: int, posts: list[Post], reset: bool = False, pinned: Post | None = None,
             paused: bool = False, shares: dict[str, int] | None = None) -> dict[str, Any]:
    """The approved posts a screen starts from, newest first, as of event `seq`, with the
    pinned post (or null), whether moderators paused the wall and the share counts."""
    return {"type": SNAPSHOT, "seq": seq, "reset": reset, "posts": [p.to_dict() for p in posts],
            "pinned": pinned.to_dict() if pinned else None, "paused": paused,
            "shares": shares or {}}


def queue_snapshot(seq: int, pending: list[QueueItem], counts: dict[str, int],
                   **extra: Any) -> dict[str, Any]:
    """The pending queue a moderator starts from, and what else the console shows."""
    return {
        "type": QUEUE_SNAPSHOT,
        "seq": seq,
        "pending": [item.to_dict() for item in pending],
        "counts": counts,
        **extra,
    }


def ack(ref: Any, **data: Any) -> dict[str, Any]:
    """A moderator's message was applied."""
    return {"type": ACK, "ref": ref, **data}


def error(message: str, ref: Any = None, code: str = "bad_request") -> dict[str, Any]:
    """A moderator's message was refused, and why."""
    return {"type": ERROR, "ref": ref, "code": code, "message": message}

# Server to every screen (/ws), for the wall's featured place and the moderators' pause.
POST_PINNED = "post.pinned"
POST_UNPINNED = "post.unpinned"
WALL_PAUSED = "wall.paused"
WALL_RESUMED = "wall.resumed"

# Server to every screen (/ws): the share count of an approved post changed (moderation/shares.py).
POST_SHARES = "post.shares"

# Moderators to server (/ws/moderate), besides `decide`; answered by `ack` or `error`.
UNDO = "undo"
PIN = "pin"
UNPIN = "unpin"
ANNOUNCE = "announce"
PAUSE = "pause"
RESUME = "resume"
MODE = "mode"
CLAIM = "claim"
RELEASE = "release"
RULES = "rules"

# Server to moderators (/ws/moderate), besides the queue events and the wall's own events.
QUEUE_CLAIMED = "queue.claimed"
QUEUE_RELEASED = "queue.released"
WALL_MODE = "wall.mode"
RULES_CHANGED = "rules.changed"
QUEUE_SHARES = "queue.shares"

# Server to every socket when a moderator changes the screens' theme (not a stored event).
WALL_THEME = "wall.theme"
THEME = "theme"

# Server to every socket, every HEARTBEAT_SECONDS: lets pages notice a dead connection.
HEARTBEAT = "heartbeat"
HEARTBEAT_SECONDS = 15
