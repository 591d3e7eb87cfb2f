"""The scale-out store: the queue in one Redis, shared by every process, changed atomically.

Each change reads what it depends on, plans with the pure planners, and applies the plan in
one APPLY script guarded by what it read; when another process changed that in between, it
reads and plans again (optimistic concurrency, decided in Redis).
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.exceptions import AuthenticationError, RedisError, ResponseError

from moderation import controls, jsoncodec
from moderation.changes import ChangeSet, CountShare
from moderation.claims import Claimable, plan_claim, plan_release
from moderation.exceptions import InvalidAction, UnknownPost
from moderation.plans import plan_decide, plan_submits, plan_undo_change, root_of
from moderation.post import Post, Status
from moderation.queue import PUBLIC, Action, AuditEntry, Decision, Event, QueueItem, Verdict
from moderation.shares import plan_shares, screen_counts
from moderation.stores.base import Store, StoreError, new_epoch
from moderation.stores.redis.connection import client, translated, where
from moderation.stores.redis.keys import FIELDS, Keys, Record
from moderation.stores.redis.program import Program
from moderation.stores.redis.scripts import APPLY, ITEMS, RECORDS, SNAPSHOT
from moderation.wall_state import Mode, Snapshot, WallState

logger = logging.getLogger(__name__)

# A change whose guards keep failing this many times means something is badly wrong.
ATTEMPTS = 50
# Entries an event stream keeps; screens further behind than a few thousand get a snapshot.
EVENTS_KEPT = 100_000
# The longest a blocking read waits, so that a dead connection is noticed.
WAIT_CAP = 10.0

T = TypeVar("T")
# Reads what a change depends on and plans it; returns the program to apply (None: nothing
# to write) and the result to give once it is applied.
Attempt = Callable[[str], Awaitable[tuple[Program | None, T]]]


class RedisStore(Store):
    """Posts in hashes, indexes in sorted sets, event logs and audit in streams."""

    shared = True

    def __init__(self, url: str, prefix: str = "hashwall:") -> None:
        self.url = url
        self.where = where(url)
        self.keys = Keys(prefix)
        self._redis: aioredis.Redis | None = None
        self._blocking: aioredis.Redis | None = None

    async def open(self) -> None:
        try:
            self._redis = client(self.url, 5.0)
            # Blocking reads get their own pool, with a timeout longer than any wait.
            self._blocking = client(self.url, WAIT_CAP + 5.0)
        except ValueError as exc:
            raise StoreError(f"cannot use {self.where} as a Redis URL: {exc}") from exc
        try:
            await self._redis.ping()
            settings = await self._persistence()
        except AuthenticationError as exc:
            await self.close()
            if urlsplit(self.url).password is None:
                raise StoreError(f"Redis at {self.where} asks for a password: expected it in the "
                                 "URL, redis://:PASSWORD@host:port/db") from exc
            raise StoreError(f"Redis at {self.where} refused the credentials: {exc}") from exc
        except RedisError as exc:
            await self.close()
            raise StoreError(f"cannot open {self.where}: {exc}") from exc
        if settings.get("appendonly") == "no":
            logger.warning("Redis at %s has appendonly off: a Redis restart loses posts and "
                           "decisions (see docs/scale-out.md)", self.where)
        elif settings.get("appendfsync") not in (None, "always"):
            logger.warning("Redis at %s has appendfsync %s: a Redis crash can lose the last "
                           "writes that screens already showed (see docs/scale-out.md)",
                           self.where, settings.get("appendfsync"))
        self._apply = self._redis.register_script(APPLY)
        self._items = self._redis.register_script(ITEMS)
        self._read = self._redis.register_script(RECORDS)
        self._snapshot = self._redis.register_script(SNAPSHOT)
        await self.epoch()

    async def _persistence(self) -> dict[str, str]:
        try:
            settings: Any = await self.redis.config_get("append*")
        except ResponseError:
            return {}  # CONFIG is disabled on some hosted Redis: nothing to check
        return dict(settings)

    async def close(self) -> None:
        for each in (self._redis, self._blocking):
            if each is not None:
                await each.aclose()
        self._redis = self._blocking = None

    @property
    def redis(self) -> aioredis.Redis:
        if self._redis is None:
            raise StoreError("the store is not open")
        return self._redis

    @translated
    async def run_script(self, source: str, keys: list[str], args: list[Any]) -> Any:
        """Run a Lua script of another module (the sign-in throttle) on this connection."""
        return await self.redis.register_script(source)(keys=keys, args=args)

    async def health(self) -> dict[str, Any]:
        start = time.monotonic()
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.zcard(self.keys.status(Status.PENDING))
                pipe.get(self.keys.seq(PUBLIC))
                pending, seq = await pipe.execute()
        except (RedisError, OSError, StoreError) as exc:
            return {"ok": False, "backend": "redis", "url": self.where,
                    "error": f"Redis at {self.where} is unreachable: {exc}"}
        return {"ok": True, "backend": "redis", "url": self.where, "pending": pending,
                "last_seq": int(seq or 0),
                "latency_ms": round((time.monotonic() - start) * 1000, 2)}

    # -- changes ----------------------------------------------------------------------------

    async def _change(self, attempt: Attempt[T], what: str) -> T:
        """Read, plan and apply until no concurrent change came between the read and the write."""
        token = secrets.token_hex(8)
        for _ in range(ATTEMPTS):
            program, result = await attempt(token)
            if program is None:
                return result
            outcome = await self._apply(args=[program.text(), EVENTS_KEPT, *program.args])
            if outcome[0] != "retry":
                return result
        raise StoreError(f"could not {what}: other changes kept coming first")

    async def _begin(self) -> ChangeSet:
        """A change planned now, on the pinned post as it is now."""
        return self._changes(await self._pinned())

    @staticmethod
    def _changes(pinned: str | None) -> ChangeSet:
        """A change planned now, on `pinned`, the pinned post as read."""
        at = time.time()
        return ChangeSet(lambda: at, pinned)

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
        ids = list(dict.fromkeys(post.id for post, _ in entries))
        roots = list(dict.fromkeys(root_of(post) for post, _ in entries))

        async def attempt(token: str) -> tuple[Program | None, list[tuple[QueueItem, bool]]]:
            found, groups, pinned = await self._read_records(ids, roots)
            at = time.time()
            changes = ChangeSet(lambda: at, pinned)
            # Our own earlier attempt may have landed before its reply was lost.
            landed = {i for i, r in found.items() if r is not None and r.op == token}
            results = plan_submits(
                changes, entries, {i: r.item if r else None for i, r in found.items()},
                {root: [r.item for r in group] for root, group in groups.items()},
                author, landed)
            if not changes.ops:
                return None, results
            program = Program(self.keys, token)
            program.require_field(self.keys.wall, "pinned", pinned)
            records = {r.item.post.id: r for group in groups.values() for r in group}
            for post, _ in entries:
                if found[post.id] is None:
                    program.require_absent(post.id)
                    root = root_of(post)
                    if root in groups:
                        group = groups.pop(root)
                        program.require_group(root, len(group), group)
            program.compile(changes, records)
            return program, results

        return await self._change(attempt, f"queue {len(entries)} posts")

    @translated
    async def decide(
        self, post_id: str, action: Action, moderator: str, expected: Status | None = None,
        ref: str | None = None,
    ) -> Decision:
        tried: list[Decision] = []

        async def attempt(token: str) -> tuple[Program | None, Decision]:
            repeat = await self._repeat(moderator, ref)
            if repeat is not None:
                return None, repeat
            # The post, the pinned post and (for an approval) the versions of the post, in
            # one read: a post is its own root unless it is an edit.
            approve = action is Action.APPROVE
            found, groups, pinned = await self._read_records([post_id],
                                                             [post_id] if approve else [])
            record = found[post_id]
            if record is None:
                raise UnknownPost(f"no post with id {post_id!r} in the queue")
            if tried and record.op == token:
                return None, tried[-1]  # our earlier attempt landed; its reply was lost
            changes = self._changes(pinned)
            group: list[Record] = []
            if approve:
                group = (groups[post_id] if record.root == post_id
                         else await self._group(record.root))
            others = [r for r in group if r.item.post.id != post_id]
            tried.append(plan_decide(changes, record.item, [r.item for r in others], action,
                                     moderator, expected, ref))
            program = self._guarded(token, pinned, moderator, ref)
            program.require(record)
            if group:
                program.require_group(record.root, len(group), others)
            program.compile(changes, {r.item.post.id: r for r in [record, *others]})
            return program, tried[-1]

        return await self._change(attempt, f"decide on post {post_id}")

    def _guarded(self, token: str, pinned: str | None, moderator: str,
                 ref: str | None) -> Program:
        """A program guarded on the pinned post as read and, with a `ref`, not yet applied
        under that ref."""
        program = Program(self.keys, token)
        program.require_field(self.keys.wall, "pinned", pinned)
        if ref is not None:
            program.require_field(self.keys.refs(moderator), ref, None)
        return program

    @translated
    async def undo(self, moderator: str, ref: str | None = None) -> Decision:
        tried: list[Decision] = []
        stack = self.keys.undo(moderator)

        async def attempt(token: str) -> tuple[Program | None, Decision]:
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
            changes = await self._begin()
            pinned = changes.pinned
            group = await self._group(record.root)
            others = [r for r in group if r.item.post.id != last.post_id]
            tried.append(plan_undo_change(changes, record.item, last,
                                          [r.item for r in others], moderator, ref))
            program = self._guarded(token, pinned, moderator, ref)
            program.require(record)
            program.require_head(stack, head)
            program.require_group(record.root, len(group), others)
            program.compile(changes, {r.item.post.id: r for r in [record, *others]})
            return program, tried[-1]

        return await self._change(attempt, f"undo the last decision of {moderator}")

    @translated
    async def share(self, retweet_id: str, original_id: str) -> int:
        return (await self._share([(retweet_id, original_id)]))[0]

    @translated
    async def share_many(self, shares: Sequence[tuple[str, str]]) -> list[int]:
        return await self._share(shares) if shares else []

    async def _share(self, shares: Sequence[tuple[str, str]]) -> list[int]:
        retweets = list(dict.fromkeys(retweet for retweet, _ in shares))

        async def attempt(token: str) -> tuple[Program | None, list[int]]:
            counted: Any = await self.redis.hmget(self.keys.shares, retweets)
            toward = dict(zip(retweets, counted, strict=True))
            # Counted already (a replay), or our own attempt landed and its reply was lost:
            # the count of the post it was counted toward.
            ids = list(dict.fromkeys([*(o for _, o in shares), *(c for c in counted if c)]))
            found, _, _ = await self._read_records(ids)
            at = time.time()
            changes = ChangeSet(lambda: at)
            counts = plan_shares(changes, shares, toward,
                                 {i: r.item if r else None for i, r in found.items()})
            if not changes.ops:
                return None, counts
            program = Program(self.keys, token)
            records: dict[str, Record] = {}
            for op in changes.ops:
                if isinstance(op, CountShare):
                    record = found[op.original]
                    assert record is not None  # plan_shares raised otherwise
                    if op.original not in records:
                        # A new version, so that a decision planned on the old count plans
                        # again and shows the post with the count the screens must have.
                        program.require(record)
                        records[op.original] = record
                    program.require_field(self.keys.shares, op.retweet, None)
            program.compile(changes, records)
            return program, counts

        return await self._change(attempt, f"count {len(shares)} retweets")

    @translated
    async def pin(self, post_id: str, moderator: str) -> bool:
        async def attempt(token: str) -> tuple[Program | None, bool]:
            record = await self._record(post_id)
            if record is None:
                raise UnknownPost(f"no post with id {post_id!r} in the queue")
            changes = await self._begin()
            pinned = changes.pinned
            if not controls.pin(changes, record.item, moderator):
                return None, False
            return self._applied(token, changes, "pinned", pinned, record), True

        return await self._change(attempt, f"pin post {post_id}")

    @translated
    async def unpin(self, moderator: str) -> str | None:
        async def attempt(token: str) -> tuple[Program | None, str | None]:
            changes = await self._begin()
            pinned = controls.unpin(changes, moderator)
            if pinned is None:
                return None, None
            return self._applied(token, changes, "pinned", pinned), pinned

        return await self._change(attempt, "unpin")

    @translated
    async def set_paused(self, paused: bool, moderator: str) -> bool:
        async def attempt(token: str) -> tuple[Program | None, bool]:
            now: Any = await self.redis.hget(self.keys.wall, "paused")
            changes = ChangeSet(time.time)
            if not controls.pause(changes, bool(now), paused, moderator):
                return None, False
            return self._applied(token, changes, "paused", now), True

        return await self._change(attempt, "pause or resume the wall")

    @translated
    async def set_mode(self, mode: Mode, moderator: str) -> bool:
        async def attempt(token: str) -> tuple[Program | None, bool]:
            stored: Any = await self.redis.hget(self.keys.wall, "mode")
            changes = ChangeSet(time.time)
            if not controls.switch_mode(changes, Mode(stored or Mode.PRE.value), mode,
                                        moderator):
                return None, False
            return self._applied(token, changes, "mode", stored), True

        return await self._change(attempt, "switch the moderation mode")

    def _applied(self, token: str, changes: ChangeSet, switch: str, value: str | None,
                 *records: Record) -> Program:
        """The program of a change that applies only while one switch of the wall still holds
        `value` and `records` are unchanged."""
        program = Program(self.keys, token)
        program.require_field(self.keys.wall, switch, value)
        for record in records:
            program.require(record)
        program.compile(changes, {r.item.post.id: r for r in records})
        return program

    @translated
    async def put_rules(self, rules: dict[str, Any], moderator: str) -> None:
        async def attempt(token: str) -> tuple[Program | None, None]:
            changes = ChangeSet(time.time)
            controls.put_rules(changes, rules, moderator)
            program = Program(self.keys, token)
            program.compile(changes, {})
            return program, None

        await self._change(attempt, "store the rules")

    async def _pending(self) -> list[Record]:
        return await self._records(self.keys.status(Status.PENDING), 0, -1, newest=False)

    @staticmethod
    def _claimable(records: list[Record]) -> list[Claimable]:
        return [Claimable(r.item.post.id, r.item.claimed_by, r.item.claim_until)
                for r in records]

    @translated
    async def claim(self, moderator: str, size: int, ttl: float,
                    now: float | None = None) -> list[str]:
        at = time.time() if now is None else now

        async def attempt(token: str) -> tuple[Program | None, list[str]]:
            pending = await self._pending()
            changes = ChangeSet(lambda: at)
            batch = plan_claim(changes, self._claimable(pending), moderator, size, at + ttl)
            chosen = set(batch)
            return self._touching(token, changes, [r for r in pending
                                                   if r.item.post.id in chosen]), batch

        return await self._change(attempt, f"claim posts for {moderator}")

    def _touching(self, token: str, changes: ChangeSet, records: list[Record]) -> Program:
        """The program of a change guarded on the posts it touches."""
        program = Program(self.keys, token)
        for record in records:
            program.require(record)
        program.compile(changes, {r.item.post.id: r for r in records})
        return program

    async def _release_where(self, held: Callable[[Claimable], bool], now: float,
                             what: str) -> list[str]:
        """Return to the pool the claimed pending posts that `held` selects."""
        async def attempt(token: str) -> tuple[Program | None, list[str]]:
            pending = await self._pending()
            changes = ChangeSet(lambda: now)
            ids = plan_release(changes, self._claimable(pending), held)
            if not ids:
                return None, []
            chosen = set(ids)
            return self._touching(token, changes, [r for r in pending
                                                   if r.item.post.id in chosen]), ids

        return await self._change(attempt, what)

    @translated
    async def release(self, moderator: str) -> list[str]:
        return await self._release_where(lambda c: c.claimed_by == moderator,
                                         time.time(), f"release the posts of {moderator}")

    @translated
    async def release_expired(self, now: float | None = None) -> list[str]:
        at = time.time() if now is None else now
        return await self._release_where(lambda c: c.free(at), at, "release expired claims")

    # -- reads ------------------------------------------------------------------------------

    async def _record(self, post_id: str) -> Record | None:
        row: Any = await self.redis.hmget(self.keys.post(post_id), list(FIELDS))
        return Record.parse(row)

    async def _records(self, key: str, start: int, stop: int, newest: bool) -> list[Record]:
        rows = await self._items(keys=[key], args=[start, stop, "rev" if newest else "",
                                                   self.keys.post_prefix, *FIELDS])
        return [r for r in (Record.parse(row) for row in rows) if r is not None]

    async def _group(self, root: str) -> list[Record]:
        """Every version of a post, oldest first."""
        return await self._records(self.keys.group(root), 0, -1, newest=False)

    async def _read_records(
        self, post_ids: list[str], roots: list[str] | None = None,
    ) -> tuple[dict[str, Record | None], dict[str, list[Record]], str | None]:
        """Some posts by id, the versions of some posts by root, and the pinned post, read
        together; a post read twice is one Record, so a change planned on it shows in both."""
        rows, groups, pinned = await self._read(
            keys=[self.keys.wall],
            args=[self.keys.post_prefix, self.keys.group_prefix, len(FIELDS), *FIELDS,
                  len(post_ids), *post_ids, *(roots or [])])
        found = {i: Record.parse(row) for i, row in zip(post_ids, rows, strict=True)}
        versions: dict[str, list[Record]] = {}
        for root, group in zip(roots or [], groups, strict=True):
            parsed = [r for r in (Record.parse(row) for row in group) if r is not None]
            versions[root] = [found.get(r.item.post.id) or r for r in parsed]
        return found, versions, pinned or None

    @translated
    async def share_counts(self, post_ids: list[str]) -> dict[str, int]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for post_id in post_ids:
                pipe.hget(self.keys.post(post_id), "shares")
            counts = await pipe.execute()
        return {post_id: int(n) for post_id, n in zip(post_ids, counts, strict=True) if n}

    async def _pinned(self) -> str | None:
        pinned: Any = await self.redis.hget(self.keys.wall, "pinned")
        return str(pinned) if pinned is not None else None

    @translated
    async def get(self, post_id: str) -> QueueItem | None:
        record = await self._record(post_id)
        return record.item if record else None

    @translated
    async def get_many(self, post_ids: Sequence[str]) -> dict[str, QueueItem]:
        ids = list(dict.fromkeys(post_ids))
        found: dict[str, QueueItem] = {}
        # One script call per chunk: a Lua call takes its arguments on the stack.
        for start in range(0, len(ids), 500):
            records, _, _ = await self._read_records(ids[start:start + 500])
            found.update({i: r.item for i, r in records.items() if r is not None})
        return found

    @translated
    async def list_items(self, status: Status, limit: int = 100) -> list[QueueItem]:
        records = await self._records(self.keys.status(status), 0, limit - 1,
                                      newest=status is not Status.PENDING)
        return [r.item for r in records]

    @translated
    async def pending_after(self, post_id: str, limit: int) -> list[QueueItem]:
        n: Any = await self.redis.hget(self.keys.post(post_id), "n")
        if n is None:
            raise UnknownPost(f"post {post_id!r} was never queued: no position to page from")
        ids: Any = await self.redis.zrangebyscore(self.keys.status(Status.PENDING),
                                                  f"({n}", "+inf", start=0, num=limit)
        found, _, _ = await self._read_records([str(i) for i in ids])
        # A post decided between the two reads is no longer part of the page.
        records = [found.get(str(i)) for i in ids]
        return [r.item for r in records if r is not None and r.item.status is Status.PENDING]

    @translated
    async def count(self, status: Status) -> int:
        return int(await self.redis.zcard(self.keys.status(status)))

    @translated
    async def snapshot(self, limit: int) -> Snapshot:
        seq, paused, pinned_data, pinned_shares, *rows = await self._snapshot(
            keys=[self.keys.seq(PUBLIC), self.keys.shown, self.keys.wall],
            args=[limit, self.keys.post_prefix])
        found = [(Post.from_dict(jsoncodec.loads(data)), int(shares or 0))
                 for data, shares in zip(rows[::2], rows[1::2], strict=True) if data]
        pinned = Post.from_dict(jsoncodec.loads(pinned_data)) if pinned_data else None
        counts = {post.id: shares for post, shares in found}
        if pinned is not None:
            counts[pinned.id] = int(pinned_shares or 0)
        return Snapshot(int(seq), [post for post, _ in found], pinned, bool(paused),
                        screen_counts(counts))

    @translated
    async def approved_before(self, post_id: str, limit: int) -> list[Post]:
        key = self.keys.post(post_id)
        shown: Any = await self.redis.hget(key, "shown_seq")
        if shown is None:
            raise UnknownPost(f"post {post_id!r} was never shown: no position to page from")
        ids: Any = await self.redis.zrevrangebyscore(self.keys.shown, f"({shown}", "-inf",
                                                     start=0, num=limit)
        async with self.redis.pipeline(transaction=False) as pipe:
            for id_ in ids:
                pipe.hget(self.keys.post(id_), "data")
            rows = await pipe.execute()
        # A post's data never changes once queued, so reading it after the index is safe.
        return [Post.from_dict(jsoncodec.loads(r)) for r in rows if r]

    @translated
    async def epoch(self) -> str:
        epoch: Any = await self.redis.get(self.keys.epoch)
        if epoch is None:
            # A new or flushed Redis: the first process to ask makes the epoch for all.
            await self.redis.set(self.keys.epoch, new_epoch(), nx=True)
            epoch = await self.redis.get(self.keys.epoch)
        return str(epoch)

    @translated
    async def last_seq(self, channel: str) -> int:
        return int(await self.redis.get(self.keys.seq(channel)) or 0)

    @translated
    async def events_after(self, channel: str, seq: int, limit: int = 500) -> list[Event]:
        entries: Any = await self.redis.xrange(self.keys.events(channel), min=f"{seq + 1}-0",
                                               max="+", count=limit)
        return _events(entries)

    def _waiting(self, timeout: float) -> tuple[aioredis.Redis, int]:
        """The connection for blocking reads, and the milliseconds a wait of `timeout` may
        block on it."""
        if self._blocking is None:
            raise StoreError("the store is not open")
        return self._blocking, max(1, int(min(timeout, WAIT_CAP) * 1000))

    @translated
    async def next_batch(self, channel: str, after: int,
                         timeout: float) -> tuple[list[Event], str | None]:
        blocking, block = self._waiting(timeout)
        # One round trip: XREAD returns the entries above `after` at once, or waits for the
        # first; the epoch is read right after it, on the same connection.
        async with blocking.pipeline(transaction=False) as pipe:
            pipe.xread({self.keys.events(channel): f"{after}-0"}, count=500, block=block)
            pipe.get(self.keys.epoch)
            streams, epoch = await pipe.execute()
        events = _events(streams[0][1]) if streams else []
        return await self.deliverable(channel, events), epoch

    @translated
    async def wait_for_events(self, channel: str, after: int, timeout: float) -> None:
        blocking, block = self._waiting(timeout)
        # XREAD returns at once when an entry above `after` exists, else waits for one.
        await blocking.xread({self.keys.events(channel): f"{after}-0"}, count=1,
                                   block=block)

    @translated
    async def audit(self, limit: int = 100) -> list[AuditEntry]:
        entries: Any = await self.redis.xrevrange(self.keys.audit, "+", "-", count=limit)
        return [AuditEntry(**jsoncodec.loads(fields["entry"])) for _, fields in entries]

    @translated
    async def wall_state(self) -> WallState:
        values: Any = await self.redis.hmget(self.keys.wall, ["mode", "paused", "pinned"])
        mode, paused, pinned = values
        return WallState(Mode(mode or Mode.PRE.value), bool(paused), pinned)

    @translated
    async def get_cursor(self, source: str, key: str) -> str | None:
        value: Any = await self.redis.hget(self.keys.cursors, f"{source}\x1f{key}")
        return None if value is None else str(value)

    @translated
    async def set_cursor(self, source: str, key: str, value: str) -> None:
        await self.redis.hset(self.keys.cursors, f"{source}\x1f{key}", value)

    @translated
    async def add_count(self, name: str, amount: int) -> int:
        total: Any = await self.redis.incrby(self.keys.counter(name), amount)
        return int(total)

    @translated
    async def get_count(self, name: str) -> int:
        total: Any = await self.redis.get(self.keys.counter(name))
        return int(total or 0)

    @translated
    async def get_rules(self) -> dict[str, Any] | None:
        rules: Any = await self.redis.get(self.keys.rules)
        return dict(jsoncodec.loads(rules)) if rules is not None else None


def _events(entries: Any) -> list[Event]:
    """Events from the entries of an event log stream (XRANGE or XREAD)."""
    return [Event(int(id_.partition("-")[0]), f["type"], jsoncodec.loads(f["data"]))
            for id_, f in entries]
