"""The SQLite store: reads what a change depends on, plans it, applies it in one transaction."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from moderation import controls, jsoncodec
from moderation.changes import ChangeSet
from moderation.claims import Claimable, plan_claim, plan_release
from moderation.exceptions import InvalidAction, UnknownPost
from moderation.plans import plan_decide, plan_submits, plan_undo_change, root_of
from moderation.post import Post, Status
from moderation.queue import (
    CHANNELS,
    PUBLIC,
    UNDOABLE,
    Action,
    AuditEntry,
    Decision,
    Event,
    QueueItem,
    Verdict,
)
from moderation.shares import plan_shares, screen_counts
from moderation.stores.base import Store, StoreError, new_epoch
from moderation.stores.sqlite.apply import apply
from moderation.stores.sqlite.schema import connect
from moderation.wall_state import Mode, Snapshot, WallState

T = TypeVar("T")

ITEM_COLUMNS = (
    "data, status, rule, reason, decided_by, received_at, updated_at, claimed_by, claim_until,"
    " shares"
)
_UNDOABLE = tuple(sorted(UNDOABLE))


def item_of(row: sqlite3.Row | tuple[Any, ...]) -> QueueItem:
    """A queue item from the ITEM_COLUMNS of a row."""
    data, status, rule, reason, decided_by, received_at, updated_at, claimed_by, until, shares = row
    return QueueItem(
        post=Post.from_dict(jsoncodec.loads(data)), status=Status(status), rule=rule,
        reason=reason, decided_by=decided_by, received_at=received_at, updated_at=updated_at,
        claimed_by=claimed_by, claim_until=until, shares=shares,
    )


class SQLiteStore(Store):
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
            self._db = connect(self.path)
            # Made with the file: a new file is a new epoch, a reopened one keeps its own.
            self._db.execute("INSERT OR IGNORE INTO wall (key, value) VALUES ('epoch', ?)",
                             (jsoncodec.dumps(new_epoch()),))
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open {self.url}: {exc}") from exc

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
            pending = await self.count(Status.PENDING)
        except (sqlite3.Error, StoreError) as exc:
            return {"ok": False, "backend": "sqlite", "error": str(exc)}
        return {"ok": True, "backend": "sqlite", "pending": pending,
                "last_seq": await self.last_seq(PUBLIC)}

    # -- changes: read, plan, apply, all in one transaction ---------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """`BEGIN IMMEDIATE` … `COMMIT`, rolled back on any exception."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def _change(self, plan: Callable[[ChangeSet], T], clock: Callable[[], float] = time.time,
                ) -> T:
        """Plan a change on what the file holds now and apply it, in one transaction; then
        wake whoever waits on the channels it appended to."""
        with self._transaction():
            changes = ChangeSet(clock, self._get("pinned"))
            result = plan(changes)
            apply(self.db, changes)
        self._signal(changes.channels())
        return result

    def _signal(self, channels: set[str]) -> None:
        for channel in channels:
            signal = self._signals[channel]
            self._signals[channel] = asyncio.Event()
            signal.set()

    def _get(self, key: str) -> Any:
        row = self.db.execute("SELECT value FROM wall WHERE key = ?", (key,)).fetchone()
        return jsoncodec.loads(row[0]) if row else None

    def _item(self, post_id: str) -> QueueItem | None:
        row = self.db.execute(
            f"SELECT {ITEM_COLUMNS} FROM posts WHERE id = ?", (post_id,)).fetchone()
        return item_of(row) if row else None

    def _versions(self, root: str) -> list[QueueItem]:
        """Every version of a post, oldest first."""
        return [item_of(r) for r in self.db.execute(
            f"SELECT {ITEM_COLUMNS} FROM posts INDEXED BY posts_root WHERE root = ? ORDER BY n",
            (root,))]

    def _root(self, post_id: str) -> str:
        row = self.db.execute("SELECT root FROM posts WHERE id = ?", (post_id,)).fetchone()
        return str(row[0]) if row else post_id

    def _claimable(self) -> list[Claimable]:
        rows = self.db.execute(
            "SELECT id, claimed_by, claim_until FROM posts WHERE status = ? ORDER BY n",
            (Status.PENDING.value,),
        ).fetchall()
        return [Claimable(*r) for r in rows]

    def _repeat(self, moderator: str, ref: str | None) -> Decision | None:
        """The outcome already recorded for this moderator's `ref`, if any."""
        if ref is None:
            return None
        row = self.db.execute(
            "SELECT at, action, post_id, before, after FROM audit"
            " WHERE actor = ? AND ref = ? ORDER BY n DESC LIMIT 1",
            (moderator, ref),
        ).fetchone()
        if row is None:
            return None
        at, action, post_id, before, after = row
        if action == "undo":
            undone = self.db.execute(
                "SELECT action FROM audit WHERE actor = ? AND post_id = ? AND undone = 1"
                " AND n < (SELECT max(n) FROM audit WHERE actor = ? AND ref = ?)"
                " ORDER BY n DESC LIMIT 1", (moderator, post_id, moderator, ref),
            ).fetchone()
            action = undone[0] if undone else "approve"
        return Decision(post_id, Action(action), Status(before), Status(after), moderator, at,
                        repeat=True)

    async def submit(self, post: Post, verdict: Verdict) -> tuple[QueueItem, bool]:
        return (await self.submit_many([(post, verdict)]))[0]

    async def submit_many(
        self, entries: Sequence[tuple[Post, Verdict]],
    ) -> list[tuple[QueueItem, bool]]:
        return self._change(lambda changes: self._plan_submits(changes, entries))

    def _plan_submits(self, changes: ChangeSet, entries: Sequence[tuple[Post, Verdict]],
                      author: str | None = None) -> list[tuple[QueueItem, bool]]:
        found = {post.id: self._item(post.id) for post, _ in entries}
        groups = {root: self._versions(root)
                  for root in dict.fromkeys(root_of(post) for post, _ in entries)}
        return plan_submits(changes, entries, found, groups, author)

    async def announce(self, post: Post, moderator: str) -> tuple[QueueItem, bool]:
        verdict = Verdict(Status.APPROVED, "announcement", f"written by {moderator}")
        return self._change(lambda c: self._plan_submits(c, [(post, verdict)], moderator))[0]

    async def decide(
        self, post_id: str, action: Action, moderator: str, expected: Status | None = None,
        ref: str | None = None,
    ) -> Decision:
        def plan(changes: ChangeSet) -> Decision:
            repeat = self._repeat(moderator, ref)
            if repeat is not None:
                return repeat
            item = self._item(post_id)
            if item is None:
                raise UnknownPost(f"no post with id {post_id!r} in the queue")
            others = []
            if action is Action.APPROVE:
                # By root: only the versions of this post, never every approved one.
                others = [o for o in self._versions(self._root(post_id))
                          if o.post.id != post_id]
            return plan_decide(changes, item, others, action, moderator, expected, ref)

        return self._change(plan)

    async def undo(self, moderator: str, ref: str | None = None) -> Decision:
        def plan(changes: ChangeSet) -> Decision:
            repeat = self._repeat(moderator, ref)
            if repeat is not None:
                return repeat
            row = self.db.execute(
                "SELECT at, actor, action, post_id, before, after, rule FROM audit"
                f" WHERE actor = ? AND undone = 0 AND action IN {_UNDOABLE}"
                " ORDER BY n DESC LIMIT 1", (moderator,),
            ).fetchone()
            if row is None:
                raise InvalidAction(f"{moderator} has no decision left to undo")
            last = AuditEntry(*row)
            item = self._item(last.post_id)
            if item is None:
                raise UnknownPost(f"no post with id {last.post_id!r} in the queue")
            others = [o for o in self._versions(self._root(last.post_id))
                      if o.post.id != last.post_id]
            return plan_undo_change(changes, item, last, others, moderator, ref)

        return self._change(plan)

    async def share(self, retweet_id: str, original_id: str) -> int:
        return (await self.share_many([(retweet_id, original_id)]))[0]

    async def share_many(self, shares: Sequence[tuple[str, str]]) -> list[int]:
        def plan(changes: ChangeSet) -> list[int]:
            counted: dict[str, str | None] = {}
            for retweet, _ in shares:
                row = self.db.execute("SELECT original FROM shares WHERE retweet = ?",
                                      (retweet,)).fetchone()
                counted[retweet] = row[0] if row else None
            ids = dict.fromkeys([*(o for _, o in shares), *(c for c in counted.values() if c)])
            items = {post_id: self._item(post_id) for post_id in ids}
            return plan_shares(changes, shares, counted, items)

        return self._change(plan)

    async def pin(self, post_id: str, moderator: str) -> bool:
        def plan(changes: ChangeSet) -> bool:
            item = self._item(post_id)
            if item is None:
                raise UnknownPost(f"no post with id {post_id!r} in the queue")
            return controls.pin(changes, item, moderator)

        return self._change(plan)

    async def unpin(self, moderator: str) -> str | None:
        return self._change(lambda changes: controls.unpin(changes, moderator))

    async def set_paused(self, paused: bool, moderator: str) -> bool:
        return self._change(lambda changes: controls.pause(
            changes, bool(self._get("paused")), paused, moderator))

    async def set_mode(self, mode: Mode, moderator: str) -> bool:
        return self._change(lambda changes: controls.switch_mode(
            changes, Mode(self._get("mode") or Mode.PRE.value), mode, moderator))

    async def put_rules(self, rules: dict[str, Any], moderator: str) -> None:
        self._change(lambda changes: controls.put_rules(changes, rules, moderator))

    async def claim(self, moderator: str, size: int, ttl: float,
                    now: float | None = None) -> list[str]:
        at = time.time() if now is None else now
        return self._change(
            lambda changes: plan_claim(changes, self._claimable(), moderator, size, at + ttl),
            clock=lambda: at)

    async def release(self, moderator: str) -> list[str]:
        return self._change(lambda changes: plan_release(
            changes, self._claimable(), lambda c: c.claimed_by == moderator))

    async def release_expired(self, now: float | None = None) -> list[str]:
        at = time.time() if now is None else now
        return self._change(
            lambda changes: plan_release(changes, self._claimable(), lambda c: c.free(at)),
            clock=lambda: at)

    # -- reads ------------------------------------------------------------------------------

    async def get(self, post_id: str) -> QueueItem | None:
        return self._item(post_id)

    async def get_many(self, post_ids: Sequence[str]) -> dict[str, QueueItem]:
        found: dict[str, QueueItem] = {}
        ids = list(dict.fromkeys(post_ids))
        # SQLite takes at most 32,766 parameters in one statement.
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ", ".join("?" * len(chunk))
            for row in self.db.execute(
                f"SELECT id, {ITEM_COLUMNS} FROM posts WHERE id IN ({marks})", chunk
            ):
                found[row[0]] = item_of(row[1:])
        return found

    async def share_counts(self, post_ids: list[str]) -> dict[str, int]:
        counts: dict[str, int] = {}
        # One statement per 500 ids stays below SQLite's limit on bound parameters.
        for start in range(0, len(post_ids), 500):
            chunk = post_ids[start:start + 500]
            marks = ", ".join("?" * len(chunk))
            counts.update(self.db.execute(
                f"SELECT id, shares FROM posts WHERE shares > 0 AND id IN ({marks})", chunk,
            ).fetchall())
        return counts

    async def list_items(self, status: Status, limit: int = 100) -> list[QueueItem]:
        order = "n ASC" if status is Status.PENDING else "updated_at DESC, n DESC"
        rows = self.db.execute(
            f"SELECT {ITEM_COLUMNS} FROM posts WHERE status = ? ORDER BY {order} LIMIT ?",
            (status.value, limit),
        ).fetchall()
        return [item_of(r) for r in rows]

    async def pending_after(self, post_id: str, limit: int) -> list[QueueItem]:
        row = self.db.execute("SELECT n FROM posts WHERE id = ?", (post_id,)).fetchone()
        if row is None:
            raise UnknownPost(f"post {post_id!r} was never queued: no position to page from")
        rows = self.db.execute(
            f"SELECT {ITEM_COLUMNS} FROM posts WHERE status = ? AND n > ? ORDER BY n ASC"
            " LIMIT ?", (Status.PENDING.value, row[0], limit),
        ).fetchall()
        return [item_of(r) for r in rows]

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
        pinned = self._item(pinned_id) if pinned_id else None
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

    async def epoch(self) -> str:
        return str(self._get("epoch"))

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

    async def audit(self, limit: int = 100) -> list[AuditEntry]:
        rows = self.db.execute(
            "SELECT at, actor, action, post_id, before, after, rule FROM audit"
            " ORDER BY n DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [AuditEntry(*r) for r in rows]

    async def wall_state(self) -> WallState:
        return WallState(Mode(self._get("mode") or Mode.PRE.value), bool(self._get("paused")),
                         self._get("pinned"))

    async def get_rules(self) -> dict[str, Any] | None:
        rules = self._get("rules")
        return dict(rules) if rules is not None else None

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
