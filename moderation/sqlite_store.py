"""The embedded default store: one SQLite file, one process."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from moderation import jsoncodec
from moderation.exceptions import UnknownPost
from moderation.post import Post, Status
from moderation.queue import (
    CHANNELS,
    MODERATION,
    PUBLIC,
    Action,
    AuditEntry,
    Decision,
    Event,
    QueueItem,
    Verdict,
    plan_decision,
    screen_events,
    unpin_events,
)
from moderation.shares import screen_counts, screen_shares
from moderation.sqlite_controls import SQLiteControls
from moderation.sqlite_shares import SQLiteShares
from moderation.store import Store, StoreError
from moderation.wall_state import Snapshot

SCHEMA = """
CREATE TABLE IF NOT EXISTS posts (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    root TEXT NOT NULL,
    data TEXT NOT NULL,
    status TEXT NOT NULL,
    rule TEXT,
    reason TEXT,
    decided_by TEXT,
    received_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    shown_seq INTEGER
);
CREATE INDEX IF NOT EXISTS posts_status ON posts (status, n);
CREATE INDEX IF NOT EXISTS posts_root ON posts (root);
CREATE INDEX IF NOT EXISTS posts_shown ON posts (status, shown_seq);
CREATE TABLE IF NOT EXISTS events_public (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL, data TEXT NOT NULL, at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS events_moderation (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL, data TEXT NOT NULL, at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    post_id TEXT NOT NULL,
    before TEXT,
    after TEXT NOT NULL,
    rule TEXT
);
CREATE TABLE IF NOT EXISTS wall (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS shares (
    retweet TEXT PRIMARY KEY, original TEXT NOT NULL, at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS cursors (
    source TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (source, key)
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
# Columns added after the first release, for files created before them.
MIGRATIONS = {
    "posts": (("claimed_by", "TEXT"), ("claim_until", "REAL"),
              ("shares", "INTEGER NOT NULL DEFAULT 0")),
    "audit": (("ref", "TEXT"), ("undone", "INTEGER NOT NULL DEFAULT 0")),
}
INDEXES = """
CREATE INDEX IF NOT EXISTS posts_decided ON posts (status, updated_at, n);
CREATE INDEX IF NOT EXISTS audit_ref ON audit (actor, ref);
CREATE INDEX IF NOT EXISTS audit_undo ON audit (actor, undone, n);
"""

_ITEM_COLUMNS = (
    "data, status, rule, reason, decided_by, received_at, updated_at, claimed_by, claim_until,"
    " shares"
)


def _item(row: sqlite3.Row | tuple[Any, ...]) -> QueueItem:
    data, status, rule, reason, decided_by, received_at, updated_at, claimed_by, until, shares = row
    return QueueItem(
        post=Post.from_dict(jsoncodec.loads(data)),
        status=Status(status),
        rule=rule,
        reason=reason,
        decided_by=decided_by,
        received_at=received_at,
        updated_at=updated_at,
        claimed_by=claimed_by,
        claim_until=until,
        shares=shares,
    )


class SQLiteStore(SQLiteShares, SQLiteControls, Store):
    """Queue and event logs in one SQLite file (WAL); waiting is an in-process signal."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.path = url.removeprefix("sqlite:///") or ":memory:"
        self._db: sqlite3.Connection | None = None
        self._signals = {channel: asyncio.Event() for channel in CHANNELS}

    async def open(self) -> None:
        if self.path != ":memory:":
            parent = Path(self.path).parent
            if not parent.is_dir():
                raise StoreError(f"cannot open {self.url}: folder {str(parent)!r} does not exist")
        try:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            db.executescript(SCHEMA)
            for table, columns in MIGRATIONS.items():
                have = {r[1] for r in db.execute(f"PRAGMA table_info({table})")}
                for name, kind in columns:
                    if name not in have:
                        db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
            db.executescript(INDEXES)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open {self.url}: {exc}") from exc
        self._db = db

    async def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise StoreError("the store is not open")
        return self._db

    async def health(self) -> dict[str, Any]:
        try:
            pending = self.db.execute(
                "SELECT count(*) FROM posts WHERE status = ?", (Status.PENDING.value,)
            ).fetchone()[0]
        except (sqlite3.Error, StoreError) as exc:
            return {"ok": False, "backend": "sqlite", "error": str(exc)}
        return {
            "ok": True,
            "backend": "sqlite",
            "pending": pending,
            "last_seq": await self.last_seq(PUBLIC),
        }

    def _append(self, channel: str, type_: str, data: dict[str, Any], now: float) -> int:
        cursor = self.db.execute(
            f"INSERT INTO events_{channel} (type, data, at) VALUES (?, ?, ?)",
            (type_, jsoncodec.dumps(data), now),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def _audit(
        self, now: float, actor: str, action: str, post_id: str,
        before: Status | str | None, after: Status | str, rule: str | None,
        ref: str | None = None,
    ) -> None:
        self.db.execute(
            "INSERT INTO audit (at, actor, action, post_id, before, after, rule, ref)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (now, actor, action, post_id, str(before) if before else None, str(after), rule,
             ref),
        )

    def _set_status(
        self, item: QueueItem, after: Status, actor: str, now: float,
        rule: str | None = None, reason: str | None = None,
    ) -> list[str]:
        """Write a status change and its public events; return the channels touched."""
        touched = []
        shown_seq = None
        for type_, data in screen_events(item.post, item.status, after,
                                         screen_shares(item.shares)):
            seq = self._append(PUBLIC, type_, data, now)
            touched.append(PUBLIC)
            if type_ == "post.shown":
                shown_seq = seq
        for type_, data in unpin_events(item.post.id, after, self._get("pinned")):
            self._set("pinned", None)
            touched += self._both(type_, {**data, "moderator": actor}, now)
        claim = "" if after is Status.PENDING else ", claimed_by = NULL, claim_until = NULL"
        self.db.execute(
            "UPDATE posts SET status = ?, decided_by = ?, updated_at = ?,"
            " rule = COALESCE(?, rule), reason = COALESCE(?, reason),"
            f" shown_seq = COALESCE(?, shown_seq){claim} WHERE id = ?",
            (after.value, actor, now, rule, reason, shown_seq, item.post.id),
        )
        return touched

    def _both(self, type_: str, data: dict[str, Any], now: float) -> list[str]:
        """Append one event to the public and the moderation channel."""
        self._append(PUBLIC, type_, data, now)
        self._append(MODERATION, type_, data, now)
        return [PUBLIC, MODERATION]

    def _get(self, key: str) -> Any:
        row = self.db.execute("SELECT value FROM wall WHERE key = ?", (key,)).fetchone()
        return jsoncodec.loads(row[0]) if row else None

    def _set(self, key: str, value: Any) -> None:
        if value is None:
            self.db.execute("DELETE FROM wall WHERE key = ?", (key,))
        else:
            self.db.execute(
                "INSERT INTO wall (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, jsoncodec.dumps(value)),
            )

    def _signal(self, channels: list[str]) -> None:
        for channel in set(channels):
            signal = self._signals[channel]
            self._signals[channel] = asyncio.Event()
            signal.set()

    async def submit(self, post: Post, verdict: Verdict) -> tuple[QueueItem, bool]:
        return (await self.submit_many([(post, verdict)]))[0]

    async def submit_many(
        self, entries: Sequence[tuple[Post, Verdict]],
    ) -> list[tuple[QueueItem, bool]]:
        db = self.db
        touched: list[str] = []
        db.execute("BEGIN IMMEDIATE")
        try:
            # Each post at its own time: the decided posts are listed by when they changed.
            results = [self._submit(post, verdict, time.time(), touched)
                       for post, verdict in entries]
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self._signal(touched)
        return results

    def _submit(self, post: Post, verdict: Verdict, now: float,
                touched: list[str]) -> tuple[QueueItem, bool]:
        """Queue one post inside the caller's transaction; add the channels it wrote to."""
        db = self.db
        row = db.execute(f"SELECT {_ITEM_COLUMNS} FROM posts WHERE id = ?", (post.id,)).fetchone()
        if row is not None:
            return _item(row), False
        root = post.edit_of or post.id
        earlier = [
            _item(r)
            for r in db.execute(
                f"SELECT {_ITEM_COLUMNS} FROM posts WHERE root = ? ORDER BY n", (root,)
            )
        ]
        if any(e.status is Status.APPROVED for e in earlier) and (
            verdict.status is Status.APPROVED
        ):
            # Nobody may edit an approved post into something else unseen.
            verdict = Verdict(
                Status.PENDING, "edit.of-approved",
                "an edit of an approved post waits for a moderator",
            )
        for e in earlier:
            if e.status is Status.PENDING:
                touched += self._set_status(e, Status.REJECTED, "rules", now, "edit.superseded",
                                            "a newer version of this post arrived")
                self._audit(now, "rules", "reject", e.post.id, e.status, Status.REJECTED,
                            "edit.superseded")
                self._append(MODERATION, "queue.decided", {
                    "id": e.post.id, "status": Status.REJECTED.value, "action": "reject",
                    "moderator": "rules", "rule": "edit.superseded",
                }, now)
                touched.append(MODERATION)
        item = QueueItem(post=post, status=Status.PENDING, rule=verdict.rule,
                         reason=verdict.reason, received_at=now, updated_at=now)
        db.execute(
            "INSERT INTO posts (id, root, data, status, rule, reason, received_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (post.id, root, jsoncodec.dumps(post.to_dict()),
             Status.PENDING.value, verdict.rule, verdict.reason, now, now),
        )
        if verdict.status is not Status.PENDING:
            touched += self._set_status(item, verdict.status, "rules", now)
            for e in earlier:
                if e.status is Status.APPROVED and verdict.status is Status.APPROVED:
                    touched += self._set_status(e, Status.HIDDEN, "rules", now, "edit.replaced")
            item.status = verdict.status
            item.decided_by = "rules"
        self._audit(now, "rules", "submit", post.id, None, item.status, verdict.rule)
        self._append(MODERATION, "queue.added", {"item": item.to_dict()}, now)
        touched.append(MODERATION)
        return item, True

    async def decide(
        self, post_id: str, action: Action, moderator: str, expected: Status | None = None,
        ref: str | None = None,
    ) -> Decision:
        db = self.db
        now = time.time()
        db.execute("BEGIN IMMEDIATE")
        try:
            repeat = self._repeat(moderator, ref)
            if repeat is not None:
                db.execute("COMMIT")
                return repeat
            row = db.execute(
                f"SELECT {_ITEM_COLUMNS}, root FROM posts WHERE id = ?", (post_id,)
            ).fetchone()
            if row is None:
                raise UnknownPost(f"no post with id {post_id!r} in the queue")
            item, root = _item(row[:-1]), row[-1]
            plan = plan_decision(post_id, item.status, action, moderator, expected)
            touched = [MODERATION]
            if plan.status is Status.APPROVED:
                # An approved edit replaces the version the room saw.
                for r in db.execute(
                    # By root: the planner would otherwise walk every approved post.
                    f"SELECT {_ITEM_COLUMNS} FROM posts INDEXED BY posts_root"
                    " WHERE root = ? AND status = ? AND id != ?",
                    (root, Status.APPROVED.value, post_id),
                ).fetchall():
                    other = _item(r)
                    touched += self._set_status(other, Status.HIDDEN, moderator, now,
                                                "edit.replaced")
            touched += self._set_status(item, plan.status, moderator, now)
            for type_, data in plan.moderation:
                self._append(MODERATION, type_, data, now)
            self._audit(now, moderator, action.value, post_id, item.status, plan.status, item.rule,
                        ref)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self._signal(touched)
        return Decision(post_id, action, item.status, plan.status, moderator, now)

    async def get(self, post_id: str) -> QueueItem | None:
        row = self.db.execute(
            f"SELECT {_ITEM_COLUMNS} FROM posts WHERE id = ?", (post_id,)
        ).fetchone()
        return _item(row) if row else None

    async def get_many(self, post_ids: Sequence[str]) -> dict[str, QueueItem]:
        found: dict[str, QueueItem] = {}
        ids = list(dict.fromkeys(post_ids))
        # SQLite takes at most 32,766 parameters in one statement.
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ", ".join("?" * len(chunk))
            for row in self.db.execute(
                f"SELECT id, {_ITEM_COLUMNS} FROM posts WHERE id IN ({marks})", chunk
            ):
                found[row[0]] = _item(row[1:])
        return found

    async def list_items(self, status: Status, limit: int = 100) -> list[QueueItem]:
        order = "n ASC" if status is Status.PENDING else "updated_at DESC, n DESC"
        rows = self.db.execute(
            f"SELECT {_ITEM_COLUMNS} FROM posts WHERE status = ? ORDER BY {order} LIMIT ?",
            (status.value, limit),
        ).fetchall()
        return [_item(r) for r in rows]

    async def pending_after(self, post_id: str, limit: int) -> list[QueueItem]:
        row = self.db.execute("SELECT n FROM posts WHERE id = ?", (post_id,)).fetchone()
        if row is None:
            raise UnknownPost(f"post {post_id!r} was never queued: no position to page from")
        rows = self.db.execute(
            f"SELECT {_ITEM_COLUMNS} FROM posts WHERE status = ? AND n > ? ORDER BY n ASC"
            " LIMIT ?", (Status.PENDING.value, row[0], limit),
        ).fetchall()
        return [_item(r) for r in rows]

    async def count(self, status: Status) -> int:
        row = self.db.execute(
            "SELECT count(*) FROM posts WHERE status = ?", (status.value,)
        ).fetchone()
        return int(row[0])

    async def snapshot(self, limit: int) -> Snapshot:
        # One connection in one thread: no write can fall between these reads.
        seq = await self.last_seq(PUBLIC)
        rows = self.db.execute(
            "SELECT data, shares FROM posts WHERE status = ? ORDER BY shown_seq DESC LIMIT ?",
            (Status.APPROVED.value, limit),
        ).fetchall()
        pinned_id = self._get("pinned")
        pinned = await self.get(pinned_id) if pinned_id else None
        posts = [Post.from_dict(jsoncodec.loads(r[0])) for r in rows]
        counts = {p.id: r[1] for p, r in zip(posts, rows, strict=True)}
        if pinned is not None:
            counts[pinned.post.id] = pinned.shares
        return Snapshot(seq, posts, pinned.post if pinned else None, bool(self._get("paused")),
                        screen_counts(counts))

    async def approved_before(self, post_id: str, limit: int) -> list[Post]:
        row = self.db.execute("SELECT shown_seq FROM posts WHERE id = ?", (post_id,)).fetchone()
        if row is None or row[0] is None:
            raise UnknownPost(f"post {post_id!r} was never shown: no position to page from")
        rows = self.db.execute(
            "SELECT data FROM posts WHERE status = ? AND shown_seq < ?"
            " ORDER BY shown_seq DESC LIMIT ?",
            (Status.APPROVED.value, row[0], limit),
        ).fetchall()
        return [Post.from_dict(jsoncodec.loads(r[0])) for r in rows]

    async def last_seq(self, channel: str) -> int:
        row = self.db.execute(f"SELECT max(seq) FROM events_{channel}").fetchone()
        return int(row[0] or 0)

    async def events_after(self, channel: str, seq: int, limit: int = 500) -> list[Event]:
        rows = self.db.execute(
            f"SELECT seq, type, data FROM events_{channel} WHERE seq > ? ORDER BY seq LIMIT ?",
            (seq, limit),
        ).fetchall()
        return [Event(r[0], r[1], jsoncodec.loads(r[2])) for r in rows]

    async def wait_for_events(self, channel: str, after: int, timeout: float) -> None:
        signal = self._signals[channel]
        if await self.last_seq(channel) > after:
            return
        try:
            await asyncio.wait_for(signal.wait(), timeout)
        except TimeoutError:
            pass

    async def get_cursor(self, source: str, key: str) -> str | None:
        row = self.db.execute(
            "SELECT value FROM cursors WHERE source = ? AND key = ?", (source, key)
        ).fetchone()
        return str(row[0]) if row else None

    async def set_cursor(self, source: str, key: str, value: str) -> None:
        self.db.execute(
            "INSERT INTO cursors (source, key, value) VALUES (?, ?, ?)"
            " ON CONFLICT (source, key) DO UPDATE SET value = excluded.value",
            (source, key, value),
        )

    async def add_count(self, name: str, amount: int) -> int:
        row = self.db.execute(
            "INSERT INTO counters (name, value) VALUES (?, ?)"
            " ON CONFLICT (name) DO UPDATE SET value = value + excluded.value RETURNING value",
            (name, amount),
        ).fetchone()
        return int(row[0])

    async def get_count(self, name: str) -> int:
        row = self.db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else 0

    async def audit(self, limit: int = 100) -> list[AuditEntry]:
        rows = self.db.execute(
            "SELECT at, actor, action, post_id, before, after, rule FROM audit"
            " ORDER BY n DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [AuditEntry(*r) for r in rows]
