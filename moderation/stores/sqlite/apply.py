"""Writing a `ChangeSet` into the SQLite file, inside the caller's transaction."""

from __future__ import annotations

import sqlite3
from typing import Any

from moderation import jsoncodec
from moderation.changes import (
    Append,
    Audit,
    ChangeSet,
    CountShare,
    Insert,
    Remember,
    SetClaim,
    SetDecider,
    SetStatus,
    SetWall,
    Undone,
)
from moderation.post import Status
from moderation.queue import UNDOABLE

_UNDOABLE = tuple(sorted(UNDOABLE))


def set_wall(db: sqlite3.Connection, key: str, value: Any) -> None:
    """Set (or, for None, remove) one persisted switch of the wall."""
    if value is None:
        db.execute("DELETE FROM wall WHERE key = ?", (key,))
    else:
        db.execute(
            "INSERT INTO wall (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, jsoncodec.dumps(value)),
        )


def apply(db: sqlite3.Connection, changes: ChangeSet) -> None:
    """Every operation of `changes`, in order."""
    shown: dict[str, int] = {}  # post id -> the seq of the event that showed it
    for op in changes.ops:
        match op:
            case Append(channel, type_, data, at, shows):
                cursor = db.execute(
                    f"INSERT INTO events_{channel} (type, data, at) VALUES (?, ?, ?)",
                    (type_, jsoncodec.dumps(data), at))
                if shows is not None and cursor.lastrowid is not None:
                    shown[shows] = cursor.lastrowid
            case Insert(post, data, root, rule, reason, at):
                db.execute(
                    "INSERT INTO posts (id, root, data, status, rule, reason, received_at,"
                    " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (post.id, root, jsoncodec.dumps(data), Status.PENDING.value, rule, reason,
                     at, at))
            case SetStatus(post_id, _, after, actor, at, rule, reason):
                claim = "" if after is Status.PENDING else ", claimed_by = NULL, claim_until = NULL"
                db.execute(
                    "UPDATE posts SET status = ?, decided_by = ?, updated_at = ?,"
                    " rule = COALESCE(?, rule), reason = COALESCE(?, reason),"
                    f" shown_seq = COALESCE(?, shown_seq){claim} WHERE id = ?",
                    (after.value, actor, at, rule, reason, shown.pop(post_id, None), post_id))
            case SetDecider(post_id, actor):
                db.execute("UPDATE posts SET decided_by = ? WHERE id = ?", (actor, post_id))
            case Audit(entry, ref, _):
                # Every decision is undoable here: undo finds the newest not marked undone.
                db.execute(
                    "INSERT INTO audit (at, actor, action, post_id, before, after, rule, ref)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (entry.at, entry.actor, entry.action, entry.post_id, entry.before,
                     entry.after, entry.rule, ref))
            case Undone(actor):
                db.execute(
                    "UPDATE audit SET undone = 1 WHERE n = (SELECT n FROM audit WHERE actor = ?"
                    f" AND undone = 0 AND action IN {_UNDOABLE} ORDER BY n DESC LIMIT 1)",
                    (actor,))
            case Remember():
                pass  # the audit row of the decision holds its ref
            case SetWall(key, value):
                set_wall(db, key, value)
            case SetClaim(post_id, moderator, until):
                db.execute("UPDATE posts SET claimed_by = ?, claim_until = ? WHERE id = ?",
                           (moderator, until, post_id))
            case CountShare(retweet, original, count):
                db.execute("INSERT INTO shares (retweet, original, at) VALUES (?, ?, ?)",
                           (retweet, original, changes.clock()))
                db.execute("UPDATE posts SET shares = ? WHERE id = ?", (count, original))
