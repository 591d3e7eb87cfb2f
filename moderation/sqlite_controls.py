"""The SQLite store's moderator controls: undo, pin, announce, pause, mode, rules, claims."""

from __future__ import annotations

import sqlite3
import time
from typing import Any, Protocol

from moderation.claims import Claimable, claim_events, release_events, select_batch
from moderation.exceptions import InvalidAction, UnknownPost
from moderation.post import Post, Status
from moderation.queue import (
    MODERATION,
    PUBLIC,
    RESTORED,
    RESTORED_REASON,
    Action,
    AuditEntry,
    Decision,
    QueueItem,
    Verdict,
    plan_undo,
    replaced_by,
    restored_event,
)
from moderation.wall_state import Mode, WallState, plan_mode, plan_pause, plan_pin, plan_unpin

_AUDIT = "n, at, actor, action, post_id, before, after, rule"
_DECISIONS = ("approve", "reject", "hide")


class _Core(Protocol):
    """What the controls need from the store they are mixed into."""

    @property
    def db(self) -> sqlite3.Connection: ...

    def _append(self, channel: str, type_: str, data: dict[str, Any], now: float) -> int: ...

    def _audit(self, now: float, actor: str, action: str, post_id: str,
               before: Status | str | None, after: Status | str, rule: str | None,
               ref: str | None = None) -> None: ...

    def _set_status(self, item: QueueItem, after: Status, actor: str, now: float,
                    rule: str | None = None, reason: str | None = None) -> list[str]: ...

    def _both(self, type_: str, data: dict[str, Any], now: float) -> list[str]: ...

    def _get(self, key: str) -> Any: ...

    def _set(self, key: str, value: Any) -> None: ...

    def _signal(self, channels: list[str]) -> None: ...

    def _repeat(self, moderator: str, ref: str | None) -> Decision | None: ...

    def _item_row(self, post_id: str) -> QueueItem | None: ...

    def _claimable(self) -> list[Claimable]: ...

    def _release(self, released: dict[str, list[str]], now: float) -> list[str]: ...

    async def submit(self, post: Post, verdict: Verdict) -> tuple[QueueItem, bool]: ...


class _Transaction:
    """`BEGIN IMMEDIATE` … `COMMIT`, rolled back on any exception."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, *_: object) -> None:
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")


class SQLiteControls:
    """Mixed into `SQLiteStore`: every change is one transaction, then one wake-up."""

    def _item_row(self: _Core, post_id: str) -> QueueItem | None:
        from moderation.sqlite_store import _ITEM_COLUMNS, _item

        row = self.db.execute(
            f"SELECT {_ITEM_COLUMNS} FROM posts WHERE id = ?", (post_id,)
        ).fetchone()
        return _item(row) if row else None

    def _repeat(self: _Core, moderator: str, ref: str | None) -> Decision | None:
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

    async def undo(self: _Core, moderator: str, ref: str | None = None) -> Decision:
        now = time.time()
        with _Transaction(self.db):
            repeat = self._repeat(moderator, ref)
            if repeat is not None:
                return repeat
            row = self.db.execute(
                f"SELECT {_AUDIT} FROM audit WHERE actor = ? AND undone = 0"
                f" AND action IN {_DECISIONS} ORDER BY n DESC LIMIT 1", (moderator,),
            ).fetchone()
            if row is None:
                raise InvalidAction(f"{moderator} has no decision left to undo")
            n, last = row[0], AuditEntry(*row[1:])
            item = self._item_row(last.post_id)
            if item is None:
                raise UnknownPost(f"no post with id {last.post_id!r} in the queue")
            plan = plan_undo(last.post_id, item.status, last, moderator)
            touched = self._set_status(item, plan.status, moderator, now)
            self.db.execute("UPDATE audit SET undone = 1 WHERE n = ?", (n,))
            self._audit(now, moderator, "undo", last.post_id, item.status, plan.status,
                        item.rule, ref)
            after = self._item_row(last.post_id)
            assert after is not None
            for type_, data in plan.moderation:
                self._append(MODERATION, type_, {**data, "item": after.to_dict()}, now)
            touched += SQLiteControls._restore(self, last, moderator, now)
        self._signal([*touched, MODERATION])
        return Decision(last.post_id, Action(last.action), item.status, plan.status, moderator,
                        now)

    def _restore(self: _Core, last: AuditEntry, moderator: str, now: float) -> list[str]:
        """Show again the versions the undone approval had replaced; the channels touched."""
        from moderation.sqlite_store import _ITEM_COLUMNS, _item

        others = [_item(r) for r in self.db.execute(
            f"SELECT {_ITEM_COLUMNS} FROM posts INDEXED BY posts_root"
            " WHERE root = (SELECT root FROM posts WHERE id = ?) AND id != ? ORDER BY n",
            (last.post_id, last.post_id))]
        touched: list[str] = []
        for other in replaced_by(last.action, moderator, last.at, others):
            touched += self._set_status(other, Status.APPROVED, moderator, now, RESTORED,
                                        RESTORED_REASON)
            self._audit(now, moderator, "restore", other.post.id, Status.HIDDEN,
                        Status.APPROVED, RESTORED)
            type_, data = restored_event(other.post.id, moderator)
            self._append(MODERATION, type_, data, now)
        return touched

    async def pin(self: _Core, post_id: str, moderator: str) -> bool:
        now = time.time()
        with _Transaction(self.db):
            item = self._item_row(post_id)
            if item is None:
                raise UnknownPost(f"no post with id {post_id!r} in the queue")
            events = plan_pin(item.post, item.status, self._get("pinned"), moderator)
            for type_, data in events:
                self._both(type_, data, now)
                self._set("pinned", post_id)
                self._audit(now, moderator, "pin", post_id, None, "pinned", item.rule)
        if events:
            self._signal([PUBLIC, MODERATION])
        return bool(events)

    async def unpin(self: _Core, moderator: str) -> str | None:
        now = time.time()
        with _Transaction(self.db):
            pinned = self._get("pinned")
            for type_, data in plan_unpin(pinned, moderator):
                self._both(type_, data, now)
                self._set("pinned", None)
                self._audit(now, moderator, "unpin", pinned, None, "unpinned", None)
        if pinned is not None:
            self._signal([PUBLIC, MODERATION])
        return str(pinned) if pinned is not None else None

    async def announce(self: _Core, post: Post, moderator: str) -> tuple[QueueItem, bool]:
        item, created = await self.submit(
            post, Verdict(Status.APPROVED, "announcement", f"written by {moderator}")
        )
        if created:
            # submit records the rules as the actor; the announcement is the moderator's.
            with _Transaction(self.db):
                self.db.execute("UPDATE posts SET decided_by = ? WHERE id = ?",
                                (moderator, post.id))
                self._audit(time.time(), moderator, "announce", post.id, None, item.status,
                            "announcement")
            item.decided_by = moderator
        return item, created

    async def set_paused(self: _Core, paused: bool, moderator: str) -> bool:
        now = time.time()
        with _Transaction(self.db):
            events = plan_pause(bool(self._get("paused")), paused, moderator)
            for type_, data in events:
                self._both(type_, data, now)
                self._set("paused", paused or None)
                names = ("running", "paused") if paused else ("paused", "running")
                self._audit(now, moderator, "pause" if paused else "resume", "", *names, None)
        if events:
            self._signal([PUBLIC, MODERATION])
        return bool(events)

    async def set_mode(self: _Core, mode: Mode, moderator: str) -> bool:
        now = time.time()
        with _Transaction(self.db):
            current = Mode(self._get("mode") or Mode.PRE.value)
            events = plan_mode(current, mode, moderator)
            for type_, data in events:
                self._append(MODERATION, type_, data, now)
                self._set("mode", mode.value)
                self._audit(now, moderator, "mode", "", current.value, mode.value, None)
        if events:
            self._signal([MODERATION])
        return bool(events)

    async def wall_state(self: _Core) -> WallState:
        return WallState(Mode(self._get("mode") or Mode.PRE.value), bool(self._get("paused")),
                         self._get("pinned"))

    async def get_rules(self: _Core) -> dict[str, Any] | None:
        rules = self._get("rules")
        return dict(rules) if rules is not None else None

    async def put_rules(self: _Core, rules: dict[str, Any], moderator: str) -> None:
        now = time.time()
        with _Transaction(self.db):
            self._set("rules", rules)
            self._append(MODERATION, "rules.changed", {"rules": rules, "moderator": moderator},
                         now)
            self._audit(now, moderator, "rules", "", None, "changed", None)
        self._signal([MODERATION])

    def _claimable(self: _Core) -> list[Claimable]:
        rows = self.db.execute(
            "SELECT id, claimed_by, claim_until FROM posts WHERE status = ? ORDER BY n",
            (Status.PENDING.value,),
        ).fetchall()
        return [Claimable(*r) for r in rows]

    async def claim(self: _Core, moderator: str, size: int, ttl: float,
                    now: float | None = None) -> list[str]:
        now = time.time() if now is None else now
        until = now + ttl
        with _Transaction(self.db):
            batch = select_batch(self._claimable(), moderator, size, now)
            self.db.executemany(
                "UPDATE posts SET claimed_by = ?, claim_until = ? WHERE id = ?",
                [(moderator, until, post_id) for post_id in batch],
            )
            for type_, data in claim_events(moderator, batch, until):
                self._append(MODERATION, type_, data, now)
        self._signal([MODERATION])
        return batch

    def _release(self: _Core, released: dict[str, list[str]], now: float) -> list[str]:
        ids = [post_id for batch in released.values() for post_id in batch]
        self.db.executemany(
            "UPDATE posts SET claimed_by = NULL, claim_until = NULL WHERE id = ?",
            [(post_id,) for post_id in ids],
        )
        for type_, data in release_events(released):
            self._append(MODERATION, type_, data, now)
        return ids

    async def release(self: _Core, moderator: str) -> list[str]:
        now = time.time()
        with _Transaction(self.db):
            mine = [c.id for c in self._claimable() if c.claimed_by == moderator]
            ids = self._release({moderator: mine}, now)
        if ids:
            self._signal([MODERATION])
        return ids

    async def release_expired(self: _Core, now: float | None = None) -> list[str]:
        now = time.time() if now is None else now
        released: dict[str, list[str]] = {}
        with _Transaction(self.db):
            for c in self._claimable():
                if c.claimed_by is not None and c.free(now):
                    released.setdefault(c.claimed_by, []).append(c.id)
            ids = self._release(released, now)
        if ids:
            self._signal([MODERATION])
        return ids

