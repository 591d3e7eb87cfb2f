"""The names on the wire, defined once: every message `type` and every error `code`
(docs/protocol.md; mirrored by wall_ui/js/protocol.js)."""

from __future__ import annotations

import enum


class MessageType(enum.StrEnum):
    """The `type` of every websocket message and of every event in the store's log."""

    # Server to every screen (/ws).
    SNAPSHOT = "snapshot"
    POST_SHOWN = "post.shown"
    POST_RETRACTED = "post.retracted"
    POST_PINNED = "post.pinned"
    POST_UNPINNED = "post.unpinned"
    POST_SHARES = "post.shares"
    WALL_PAUSED = "wall.paused"
    WALL_RESUMED = "wall.resumed"
    # Server to moderators (/ws/moderate), besides the wall's own events.
    QUEUE_SNAPSHOT = "queue.snapshot"
    QUEUE_ADDED = "queue.added"
    QUEUE_DECIDED = "queue.decided"
    QUEUE_CLAIMED = "queue.claimed"
    QUEUE_RELEASED = "queue.released"
    QUEUE_SHARES = "queue.shares"
    WALL_MODE = "wall.mode"
    RULES_CHANGED = "rules.changed"
    SOURCE_NOTICE = "source.notice"
    ACK = "ack"
    ERROR = "error"
    # Server to every socket, every HASHWALL_HEARTBEAT_SECONDS.
    HEARTBEAT = "heartbeat"
    # Server to every socket when a moderator switches the screens' theme (not stored).
    WALL_THEME = "wall.theme"
    # Moderators to server (/ws/moderate); answered by `ack` or `error`.
    DECIDE = "decide"
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
    THEME = "theme"


class ErrorCode(enum.StrEnum):
    """The `code` of an `error` message: stable words a client can match."""

    BAD_REQUEST = "bad_request"  # not JSON, not an object
    BAD_SINCE = "bad_since"  # ?since= is not a whole number
    UNAUTHORISED = "unauthorised"  # no moderator session
    INVALID_ACTION = "invalid_action"  # no such command or action, or it does not apply
    INVALID_RULES = "invalid_rules"  # a rules edit the rules cannot use
    UNKNOWN_POST = "unknown_post"  # no post with that id
    CONFLICT = "conflict"  # the post changed first: another decision came first
    STORE_UNAVAILABLE = "store_unavailable"  # nothing applied; send the same message again
