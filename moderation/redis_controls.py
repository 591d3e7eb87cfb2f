"""The Redis store's moderator controls: pin, pause, mode, rules and claims."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from moderation.claims import Claimable, claim_events, release_events, select_batch
from moderation.exceptions import UnknownPost
from moderation.post import Status
from moderation.queue import MODERATION, QueueItem
from moderation.redis_base import RedisBase, translated
from moderation.redis_changes import Changes, Record
from moderation.wall_state import Mode, plan_mode, plan_pause, plan_pin, plan_unpin


class RedisControls(RedisBase):
    """Mixed into `RedisStore`: the same events and audit entries as `SQLiteControls`."""

    def _changes(self, guard: str, value: str | None, now: float | None = None) -> Changes:
        """A change that applies only while one switch of the wall still holds `value`."""
        changes = Changes(self.keys, time.time() if now is None else now, self._token())
        changes.require_field(self.keys.wall, guard, value)
        return changes

    @translated
    async def pin(self, post_id: str, moderator: str) -> bool:
        async def plan() -> tuple[Changes | None, bool]:
            record = await self._record(post_id)
            if record is None:
                raise UnknownPost(f"no post with id {post_id!r} in the queue")
            pinned = await self._pinned()
            events = plan_pin(record.item.post, record.item.status, pinned, moderator)
            if not events:
                return None, False
            changes = self._changes("pinned", pinned)
            changes.require(record)
            for type_, data in events:
                changes.both(type_, data)
                changes.write("hset", self.keys.wall, {"pinned": post_id})
                changes.audit(moderator, "pin", post_id, None, "pinned", record.item.rule)
            return changes, True

        return await self._change(plan, f"pin post {post_id}")

    @translated
    async def unpin(self, moderator: str) -> str | None:
        async def plan() -> tuple[Changes | None, str | None]:
            pinned = await self._pinned()
            events = plan_unpin(pinned, moderator)
            if pinned is None or not events:
                return None, None
            changes = self._changes("pinned", pinned)
            for type_, data in events:
                changes.both(type_, data)
                changes.write("hdel", self.keys.wall, "pinned")
                changes.audit(moderator, "unpin", pinned, None, "unpinned", None)
            return changes, pinned

        return await self._change(plan, "unpin")

    @translated
    async def set_paused(self, paused: bool, moderator: str) -> bool:
        async def plan() -> tuple[Changes | None, bool]:
            now: Any = await self.redis.hget(self.keys.wall, "paused")
            events = plan_pause(bool(now), paused, moderator)
            if not events:
                return None, False
            changes = self._changes("paused", now)
            for type_, data in events:
                changes.both(type_, data)
                if paused:
                    changes.write("hset", self.keys.wall, {"paused": "1"})
                else:
                    changes.write("hdel", self.keys.wall, "paused")
                names = ("running", "paused") if paused else ("paused", "running")
                changes.audit(moderator, "pause" if paused else "resume", "", *names, None)
            return changes, True

        return await self._change(plan, "pause or resume the wall")

    @translated
    async def set_mode(self, mode: Mode, moderator: str) -> bool:
        async def plan() -> tuple[Changes | None, bool]:
            stored: Any = await self.redis.hget(self.keys.wall, "mode")
            current = Mode(stored or Mode.PRE.value)
            events = plan_mode(current, mode, moderator)
            if not events:
                return None, False
            changes = self._changes("mode", stored)
            for type_, data in events:
                changes.event(MODERATION, type_, data)
                changes.write("hset", self.keys.wall, {"mode": mode.value})
                changes.audit(moderator, "mode", "", current.value, mode.value, None)
            return changes, True

        return await self._change(plan, "switch the moderation mode")

    @translated
    async def put_rules(self, rules: dict[str, Any], moderator: str) -> None:
        changes = Changes(self.keys, time.time(), self._token())
        changes.write("set", self.keys.rules, json.dumps(rules, ensure_ascii=False))
        changes.event(MODERATION, "rules.changed", {"rules": rules, "moderator": moderator})
        changes.audit(moderator, "rules", "", None, "changed", None)

        async def plan() -> tuple[Changes | None, None]:
            return changes, None

        await self._change(plan, "store the rules")

    async def _pending(self) -> list[Record]:
        return await self._records(self.keys.status(Status.PENDING), 0, -1, newest=False)

    @translated
    async def claim(self, moderator: str, size: int, ttl: float,
                    now: float | None = None) -> list[str]:
        at = time.time() if now is None else now
        until = at + ttl

        async def plan() -> tuple[Changes | None, list[str]]:
            pending = await self._pending()
            batch = select_batch([Claimable(r.item.post.id, r.item.claimed_by,
                                            r.item.claim_until) for r in pending],
                                 moderator, size, at)
            changes = Changes(self.keys, at, self._token())
            chosen = set(batch)
            for record in pending:
                if record.item.post.id in chosen:
                    changes.require(record)
                    changes.update(record, {"claimed_by": moderator, "claim_until": repr(until)})
            for type_, data in claim_events(moderator, batch, until):
                changes.event(MODERATION, type_, data)
            return changes, batch

        return await self._change(plan, f"claim posts for {moderator}")

    async def _release_where(self, held: Callable[[QueueItem], bool], now: float,
                             what: str) -> list[str]:
        """Return to the pool the claimed pending posts that `held` selects."""
        async def plan() -> tuple[Changes | None, list[str]]:
            released: dict[str, list[str]] = {}
            changes = Changes(self.keys, now, self._token())
            for record in await self._pending():
                item = record.item
                if item.claimed_by is None or not held(item):
                    continue
                released.setdefault(item.claimed_by, []).append(item.post.id)
                changes.require(record)
                changes.update(record, {})
                changes.write("hdel", self.keys.post(item.post.id), "claimed_by", "claim_until")
            ids = [post_id for batch in released.values() for post_id in batch]
            if not ids:
                return None, []
            for type_, data in release_events(released):
                changes.event(MODERATION, type_, data)
            return changes, ids

        return await self._change(plan, what)

    @translated
    async def release(self, moderator: str) -> list[str]:
        return await self._release_where(lambda item: item.claimed_by == moderator,
                                         time.time(), f"release the posts of {moderator}")

    @translated
    async def release_expired(self, now: float | None = None) -> list[str]:
        at = time.time() if now is None else now

        def expired(item: QueueItem) -> bool:
            return Claimable(item.post.id, item.claimed_by, item.claim_until).free(at)

        return await self._release_where(expired, at, "release expired claims")
