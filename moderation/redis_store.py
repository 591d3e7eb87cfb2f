"""The scale-out store: the queue in one Redis, shared by every process, changed atomically."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Sequence
from typing import Any

from moderation.exceptions import InvalidAction, UnknownPost
from moderation.post import Post, Status
from moderation.queue import (
    MODERATION,
    RESTORED,
    RESTORED_REASON,
    Action,
    AuditEntry,
    Decision,
    QueueItem,
    Verdict,
    plan_decision,
    plan_undo,
    replaced_by,
    restored_event,
)
from moderation.redis_base import translated
from moderation.redis_changes import Changes, Record
from moderation.redis_controls import RedisControls
from moderation.redis_shares import RedisShares


class RedisStore(RedisShares, RedisControls):
    """Each change reads, plans with the pure transitions, then applies if nothing moved."""

    async def _repeat(self, moderator: str, ref: str | None) -> Decision | None:
        """The outcome already recorded for this moderator's `ref`, if any."""
        if ref is None:
            return None
        stored: Any = await self.redis.hget(self.keys.refs(moderator), ref)
        if stored is None:
            return None
        d = json.loads(stored)
        return Decision(d["post_id"], Action(d["action"]), Status(d["before"]),
                        Status(d["after"]), moderator, d["at"], repeat=True)

    async def _begin(self, moderator: str, ref: str | None, token: str) -> Changes:
        """A change that reads the pinned post and, with a `ref`, records its outcome once."""
        pinned = await self._pinned()
        changes = Changes(self.keys, time.time(), token, pinned)
        changes.require_field(self.keys.wall, "pinned", pinned)
        if ref is not None:
            changes.require_field(self.keys.refs(moderator), ref, None)
        return changes

    def _remember(self, changes: Changes, ref: str | None, decision: Decision) -> None:
        if ref is not None:
            changes.write("hset", self.keys.refs(decision.moderator), {ref: json.dumps({
                "post_id": decision.post_id, "action": decision.action.value,
                "before": decision.before.value, "after": decision.after.value,
                "at": decision.at})})

    @translated
    async def submit(self, post: Post, verdict: Verdict) -> tuple[QueueItem, bool]:
        return (await self._submit([(post, verdict)]))[0]

    @translated
    async def submit_many(
        self, entries: Sequence[tuple[Post, Verdict]],
    ) -> list[tuple[QueueItem, bool]]:
        return await self._submit(entries) if entries else []

    @translated
    async def announce(self, post: Post, moderator: str) -> tuple[QueueItem, bool]:
        verdict = Verdict(Status.APPROVED, "announcement", f"written by {moderator}")
        return (await self._submit([(post, verdict)], moderator))[0]

    async def _submit(self, entries: Sequence[tuple[Post, Verdict]],
                      author: str | None = None) -> list[tuple[QueueItem, bool]]:
        """Queue posts in one change; `author`: the moderator who wrote them (announcements)."""
        token = self._token()
        ids = list(dict.fromkeys(post.id for post, _ in entries))
        roots = list(dict.fromkeys(post.edit_of or post.id for post, _ in entries))

        async def plan() -> tuple[Changes | None, list[tuple[QueueItem, bool]]]:
            found, groups, pinned = await self._read_records(ids, roots)
            changes = Changes(self.keys, time.time(), token, pinned)
            changes.require_field(self.keys.wall, "pinned", pinned)
            # Each group as this batch leaves it; guarded once, as it was read.
            versions: dict[str, list[Record]] = {}
            results: list[tuple[QueueItem, bool]] = []
            seen: set[str] = set()
            writes = False
            for post, verdict in entries:
                record = found.get(post.id)
                if record is not None:
                    # Our own earlier attempt may have landed before its reply was lost.
                    ours = record.op == token and post.id not in seen
                    seen.add(post.id)
                    results.append((copy.copy(record.item), ours))
                    continue
                seen.add(post.id)
                root = post.edit_of or post.id
                if root not in versions:
                    versions[root] = list(groups[root])
                    changes.require_group(root, len(groups[root]))
                    for e in groups[root]:
                        changes.require(e)
                changes.require_absent(post.id)
                record = self._plan_submit(changes, post, verdict, root, versions[root])
                if author is not None:
                    # Queued by the rules like any post; the announcement is the moderator's.
                    changes.update(record, {"decided_by": author})
                    changes.audit(author, "announce", post.id, None, record.item.status,
                                  "announcement")
                    record.item.decided_by = author
                versions[root].append(record)
                found[post.id] = record
                writes = True
                # As queued: a later edit in the batch changes the record, not this result.
                results.append((copy.copy(record.item), True))
            return (changes if writes else None), results

        return await self._change(plan, f"queue {len(entries)} posts")

    @translated
    async def get_many(self, post_ids: Sequence[str]) -> dict[str, QueueItem]:
        found, _, _ = await self._read_records(list(dict.fromkeys(post_ids)))
        return {post_id: r.item for post_id, r in found.items() if r is not None}

    def _plan_submit(self, changes: Changes, post: Post, verdict: Verdict, root: str,
                     earlier: list[Record]) -> Record:
        """The writes of a submit, in the order SQLiteStore.submit makes them; the caller
        guards what it read (`earlier` as it was before this change)."""
        if any(e.item.status is Status.APPROVED for e in earlier) and (
            verdict.status is Status.APPROVED
        ):
            # Nobody may edit an approved post into something else unseen.
            verdict = Verdict(Status.PENDING, "edit.of-approved",
                              "an edit of an approved post waits for a moderator")
        for e in earlier:
            if e.item.status is Status.PENDING:
                changes.set_status(e, Status.REJECTED, "rules", "edit.superseded",
                                   "a newer version of this post arrived")
                changes.audit("rules", "reject", e.item.post.id, Status.PENDING,
                              Status.REJECTED, "edit.superseded")
                changes.event(MODERATION, "queue.decided", {
                    "id": e.item.post.id, "status": Status.REJECTED.value, "action": "reject",
                    "moderator": "rules", "rule": "edit.superseded",
                })
        now = changes.now
        record = changes.insert(QueueItem(post=post, status=Status.PENDING, rule=verdict.rule,
                                          reason=verdict.reason, received_at=now,
                                          updated_at=now), root)
        if verdict.status is not Status.PENDING:
            changes.set_status(record, verdict.status, "rules")
            for e in earlier:
                if e.item.status is Status.APPROVED and verdict.status is Status.APPROVED:
                    changes.set_status(e, Status.HIDDEN, "rules", "edit.replaced")
        changes.audit("rules", "submit", post.id, None, record.item.status, verdict.rule)
        changes.event(MODERATION, "queue.added", {"item": record.item.to_dict()})
        return record

    @translated
    async def decide(
        self, post_id: str, action: Action, moderator: str, expected: Status | None = None,
        ref: str | None = None,
    ) -> Decision:
        token = self._token()
        tried: list[Decision] = []

        async def plan() -> tuple[Changes | None, Decision]:
            repeat = await self._repeat(moderator, ref)
            if repeat is not None:
                return None, repeat
            record = await self._record(post_id)
            if record is None:
                raise UnknownPost(f"no post with id {post_id!r} in the queue")
            if tried and record.op == token:
                return None, tried[-1]  # our earlier attempt landed; its reply was lost
            before = record.item.status
            plan = plan_decision(post_id, before, action, moderator, expected)
            changes = await self._begin(moderator, ref, token)
            changes.require(record)
            if plan.status is Status.APPROVED:
                # An approved edit replaces the version the room saw.
                group = await self._records(self.keys.group(record.root), 0, -1, newest=False)
                changes.require_group(record.root, len(group))
                for other in group:
                    if other.item.post.id != post_id:
                        changes.require(other)
                        if other.item.status is Status.APPROVED:
                            changes.set_status(other, Status.HIDDEN, moderator, "edit.replaced")
            changes.set_status(record, plan.status, moderator)
            for type_, data in plan.moderation:
                changes.event(MODERATION, type_, data)
            entry = changes.audit(moderator, action.value, post_id, before, plan.status,
                                  record.item.rule)
            changes.write("lpush", self.keys.undo(moderator), entry)
            tried.append(Decision(post_id, action, before, plan.status, moderator, changes.now))
            self._remember(changes, ref, tried[-1])
            return changes, tried[-1]

        return await self._change(plan, f"decide on post {post_id}")

    @translated
    async def undo(self, moderator: str, ref: str | None = None) -> Decision:
        token = self._token()
        tried: list[Decision] = []
        stack = self.keys.undo(moderator)

        async def plan() -> tuple[Changes | None, Decision]:
            repeat = await self._repeat(moderator, ref)
            if repeat is not None:
                return None, repeat
            if tried:
                landed = await self._record(tried[-1].post_id)
                if landed is not None and landed.op == token:
                    return None, tried[-1]  # our earlier attempt landed; its reply was lost
            head: Any = await self.redis.lindex(stack, 0)
            if head is None:
                raise InvalidAction(f"{moderator} has no decision left to undo")
            last = AuditEntry(**json.loads(head))
            record = await self._record(last.post_id)
            if record is None:
                raise UnknownPost(f"no post with id {last.post_id!r} in the queue")
            before = record.item.status
            plan = plan_undo(last.post_id, before, last, moderator)
            changes = await self._begin(moderator, ref, token)
            changes.require(record)
            changes.require_head(stack, head)
            changes.set_status(record, plan.status, moderator)
            changes.write("lpop", stack)
            changes.audit(moderator, "undo", last.post_id, before, plan.status,
                          record.item.rule)
            for type_, data in plan.moderation:
                changes.event(MODERATION, type_, {**data, "item": record.item.to_dict()})
            # Show again the versions the undone approval had replaced.
            group = await self._records(self.keys.group(record.root), 0, -1, newest=False)
            others = [r for r in group if r.item.post.id != last.post_id]
            changes.require_group(record.root, len(group))
            for other in others:
                changes.require(other)
            chosen = {id(item) for item in replaced_by(last.action, moderator, last.at,
                                                       [r.item for r in others])}
            for other in (r for r in others if id(r.item) in chosen):
                changes.set_status(other, Status.APPROVED, moderator, RESTORED, RESTORED_REASON)
                changes.audit(moderator, "restore", other.item.post.id, Status.HIDDEN,
                              Status.APPROVED, RESTORED)
                changes.event(MODERATION, *restored_event(other.item.post.id, moderator))
            tried.append(Decision(last.post_id, Action(last.action), before, plan.status,
                                  moderator, changes.now))
            self._remember(changes, ref, tried[-1])
            return changes, tried[-1]

        return await self._change(plan, f"undo the last decision of {moderator}")
