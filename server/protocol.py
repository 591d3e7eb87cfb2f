"""The messages of the websockets: their types and error codes (moderation/wire.py), and
the messages built here; mirrored by wall_ui/js/protocol.js."""

from __future__ import annotations

from typing import Any

from moderation import jsoncodec
from moderation.exceptions import (
    DecisionConflict,
    InvalidAction,
    InvalidRules,
    MalformedPayload,
    UnknownPost,
)
from moderation.post import Post
from moderation.queue import QueueItem
from moderation.store import StoreUnavailable
from moderation.wire import ErrorCode, MessageType

__all__ = ["ErrorCode", "MessageType", "ack", "encode", "error", "error_code",
           "queue_snapshot", "snapshot"]

# Seconds between two heartbeats (HASHWALL_HEARTBEAT_SECONDS overrides it).
HEARTBEAT_SECONDS = 15


def encode(message: dict[str, Any]) -> str:
    """The one JSON encoding of a message, done once however many clients receive it."""
    return jsoncodec.dumps(message)


def snapshot(seq: int, posts: list[Post], reset: bool = False, pinned: Post | None = None,
             paused: bool = False, shares: dict[str, int] | None = None,
             epoch: str | None = None) -> dict[str, Any]:
    """The approved posts a screen starts from, newest first, as of event `seq` of `epoch`,
    with the pinned post (or null), whether moderators paused the wall and the share counts."""
    return {"type": MessageType.SNAPSHOT, "seq": seq, "reset": reset,
            "posts": [p.to_dict() for p in posts],
            "pinned": pinned.to_dict() if pinned else None, "paused": paused,
            "shares": shares or {}, "epoch": epoch}


def queue_snapshot(seq: int, pending: list[QueueItem], counts: dict[str, int],
                   **extra: Any) -> dict[str, Any]:
    """The pending queue a moderator starts from, and what else the console shows."""
    return {
        "type": MessageType.QUEUE_SNAPSHOT,
        "seq": seq,
        "pending": [item.to_dict() for item in pending],
        "counts": counts,
        **extra,
    }


def ack(ref: Any, **data: Any) -> dict[str, Any]:
    """A moderator's message was applied."""
    return {"type": MessageType.ACK, "ref": ref, **data}


def error(message: str, ref: Any = None,
          code: ErrorCode = ErrorCode.BAD_REQUEST) -> dict[str, Any]:
    """A moderator's message was refused, and why."""
    return {"type": MessageType.ERROR, "ref": ref, "code": code, "message": message}


# The wire's word for each refusal; anything else is a bad request.
_CODES: tuple[tuple[type[Exception], ErrorCode], ...] = (
    (DecisionConflict, ErrorCode.CONFLICT),
    (UnknownPost, ErrorCode.UNKNOWN_POST),
    (InvalidAction, ErrorCode.INVALID_ACTION),
    (InvalidRules, ErrorCode.INVALID_RULES),
    (MalformedPayload, ErrorCode.BAD_REQUEST),
    (StoreUnavailable, ErrorCode.STORE_UNAVAILABLE),
)


def error_code(exc: Exception) -> ErrorCode:
    """The error code a refusal is sent with."""
    return next((code for kind, code in _CODES if isinstance(exc, kind)), ErrorCode.BAD_REQUEST)

