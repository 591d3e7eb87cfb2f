"""The scale-out store: queue, audit log and event logs in one Redis, shared by processes."""

from __future__ import annotations

import functools
import json
import logging
import secrets
import time
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, TypeVar
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import AuthenticationError, RedisError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from moderation.exceptions import UnknownPost
from moderation.post import Post, Status
from moderation.queue import (
    MODERATION,
    PUBLIC,
    Action,
    AuditEntry,
    Decision,
    Event,
    QueueItem,
    Verdict,
    plan_decision,
)
from moderation.redis_changes import FIELDS, Changes, Keys, Record
from moderation.redis_scripts import APPLY, ITEMS, SNAPSHOT
from moderation.store import Store, StoreError, StoreUnavailable

logger = logging.getLogger(__name__)

# A change whose guards keep failing this many times means something is badly wrong.
ATTEMPTS = 50
# Entries an event stream keeps; screens further behind than a few thousand get a snapshot.
EVENTS_KEPT = 100_000
# The longest a blocking read waits, so that a dead connection is noticed.
WAIT_CAP = 10.0

P = ParamSpec("P")
T = TypeVar("T")


def where(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _translated(
    method: Callable[Concatenate[RedisStore, P], Coroutine[Any, Any, T]],
) -> Callable[Concatenate[RedisStore, P], Coroutine[Any, Any, T]]:
    """Turn driver errors into `StoreUnavailable` (try again later) or `StoreError`."""

    @functools.wraps(method)
    async def wrapper(self: RedisStore, *args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await method(self, *args, **kwargs)
        except AuthenticationError as exc:
            raise StoreError(f"Redis at {self.where} refused the credentials: {exc}") from exc
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise StoreUnavailable(f"Redis at {self.where} is unreachable: {exc}") from exc
        except RedisError as exc:
            raise StoreError(f"Redis at {self.where} refused a command: {exc}") from exc

    return wrapper


class RedisStore(Store):
    """Posts in hashes, indexes in sorted sets, event logs and audit in streams."""

    def __init__(self, url: str, prefix: str = "hashwall:") -> None:
        self.url = url
        self.where = where(url)
        self.keys = Keys(prefix)
        self._redis: aioredis.Redis | None = None
        self._blocking: aioredis.Redis | None = None

    def _client(self, socket_timeout: float) -> aioredis.Redis:
        # A couple of quick retries cover a pooled connection that died with a restart.
        return aioredis.from_url(
            self.url, decode_responses=True, socket_connect_timeout=2.0,
            socket_timeout=socket_timeout, retry=Retry(ExponentialBackoff(0.5, 0.05), 2),
        )

    async def open(self) -> None:
        try:
            self._redis = self._client(5.0)
            # Blocking reads get their own pool, with a timeout longer than any wait.
            self._blocking = self._client(WAIT_CAP + 5.0)
        except ValueError as exc:
            raise StoreError(f"cannot use {self.where} as a Redis URL: {exc}") from exc
        try:
            await self._redis.ping()
            settings = await self._persistence()
        except AuthenticationError as exc:
            await self.close()
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
        self._snapshot = self._redis.register_script(SNAPSHOT)

    async def _persistence(self) -> dict[str, str]:
        try:
            settings: Any = await self.redis.config_get("append*")
        except ResponseError:
            return {}  # CONFIG is disabled on some hosted Redis: nothing to check
        return dict(settings)

    async def close(self) -> None:
        for client in (self._redis, self._blocking):
            if client is not None:
                await client.aclose()
        self._redis = self._blocking = None

    @property
    def redis(self) -> aioredis.Redis:
        if self._redis is None:
            raise StoreError("the store is not open")
        return self._redis

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

    async def _run(self, changes: Changes) -> dict[str, int] | None:
        """Apply a change; None when a guard failed and the caller must read again."""
        result = await self._apply(args=[changes.program(), EVENTS_KEPT])
        if result[0] == "retry":
            return None
        refs: dict[str, int] = json.loads(result[1])
        return refs

    async def _record(self, post_id: str) -> Record | None:
        row: Any = await self.redis.hmget(self.keys.post(post_id), list(FIELDS))
        return Record.parse(row)

    async def _records(self, key: str, start: int, stop: int, newest: bool) -> list[Record]:
        rows = await self._items(keys=[key], args=[start, stop, "rev" if newest else "",
                                                   self.keys.post_prefix, *FIELDS])
        return [r for r in (Record.parse(row) for row in rows) if r is not None]

    @_translated
    async def submit(self, post: Post, verdict: Verdict) -> tuple[QueueItem, bool]:
        token = secrets.token_hex(8)
        for _ in range(ATTEMPTS):
            existing = await self._record(post.id)
            if existing is not None:
                # Our own earlier attempt may have landed before its reply was lost.
                return existing.item, existing.op == token
            root = post.edit_of or post.id
            earlier = await self._records(self.keys.group(root), 0, -1, newest=False)
            changes = Changes(self.keys, time.time(), token)
            changes.require_absent(post.id)
            changes.require_group(root, len(earlier))
            item = self._plan_submit(changes, post, verdict, root, earlier)
            if await self._run(changes) is not None:
                return item, True
        raise StoreError(f"could not queue post {post.id}: it kept changing")

    def _plan_submit(self, changes: Changes, post: Post, verdict: Verdict, root: str,
                     earlier: list[Record]) -> QueueItem:
        """The writes of a submit, in the order SQLiteStore.submit makes them."""
        if any(e.item.status is Status.APPROVED for e in earlier) and (
            verdict.status is Status.APPROVED
        ):
            # Nobody may edit an approved post into something else unseen.
            verdict = Verdict(Status.PENDING, "edit.of-approved",
                              "an edit of an approved post waits for a moderator")
        for e in earlier:
            changes.require(e)
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
        item = record.item
        changes.audit("rules", "submit", post.id, None, item.status, verdict.rule)
        changes.event(MODERATION, "queue.added", {"item": item.to_dict()})
        return item

    @_translated
    async def decide(
        self, post_id: str, action: Action, moderator: str, expected: Status | None = None
    ) -> Decision:
        token = secrets.token_hex(8)
        tried: Decision | None = None
        for _ in range(ATTEMPTS):
            record = await self._record(post_id)
            if record is None:
                raise UnknownPost(f"no post with id {post_id!r} in the queue")
            if tried is not None and record.op == token:
                # Our own earlier attempt landed before its reply was lost.
                return tried
            before = record.item.status
            plan = plan_decision(post_id, before, action, moderator, expected)
            now = time.time()
            changes = Changes(self.keys, now, token)
            changes.require(record)
            if plan.status is Status.APPROVED:
                # An approved edit replaces the version the room saw.
                group = await self._records(self.keys.group(record.root), 0, -1, newest=False)
                changes.require_group(record.root, len(group))
                for other in group:
                    if other.item.post.id == post_id:
                        continue
                    changes.require(other)
                    if other.item.status is Status.APPROVED:
                        changes.set_status(other, Status.HIDDEN, moderator, "edit.replaced")
            changes.set_status(record, plan.status, moderator)
            for type_, data in plan.moderation:
                changes.event(MODERATION, type_, data)
            changes.audit(moderator, action.value, post_id, before, plan.status,
                          record.item.rule)
            tried = Decision(post_id, action, before, plan.status, moderator, now)
            if await self._run(changes) is not None:
                return tried
        raise StoreError(f"could not decide on post {post_id}: it kept changing")

    @_translated
    async def get(self, post_id: str) -> QueueItem | None:
        record = await self._record(post_id)
        return record.item if record else None

    @_translated
    async def list_items(self, status: Status, limit: int = 100) -> list[QueueItem]:
        records = await self._records(self.keys.status(status), 0, limit - 1,
                                      newest=status is not Status.PENDING)
        return [r.item for r in records]

    @_translated
    async def count(self, status: Status) -> int:
        return int(await self.redis.zcard(self.keys.status(status)))

    @_translated
    async def snapshot(self, limit: int) -> tuple[int, list[Post]]:
        seq, *rows = await self._snapshot(keys=[self.keys.seq(PUBLIC), self.keys.shown],
                                          args=[limit, self.keys.post_prefix])
        return int(seq), [Post.from_dict(json.loads(r)) for r in rows if r]

    @_translated
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
        return [Post.from_dict(json.loads(r)) for r in rows if r]

    @_translated
    async def last_seq(self, channel: str) -> int:
        return int(await self.redis.get(self.keys.seq(channel)) or 0)

    @_translated
    async def events_after(self, channel: str, seq: int, limit: int = 500) -> list[Event]:
        entries: Any = await self.redis.xrange(self.keys.events(channel), min=f"{seq + 1}-0",
                                          max="+", count=limit)
        return [Event(int(id_.partition("-")[0]), f["type"], json.loads(f["data"]))
                for id_, f in entries]

    @_translated
    async def wait_for_events(self, channel: str, after: int, timeout: float) -> None:
        if self._blocking is None:
            raise StoreError("the store is not open")
        block = max(1, int(min(timeout, WAIT_CAP) * 1000))
        # XREAD returns at once when an entry above `after` exists, else waits for one.
        await self._blocking.xread({self.keys.events(channel): f"{after}-0"}, count=1,
                                   block=block)

    @_translated
    async def audit(self, limit: int = 100) -> list[AuditEntry]:
        entries: Any = await self.redis.xrevrange(self.keys.audit, "+", "-", count=limit)
        return [AuditEntry(**json.loads(fields["entry"])) for _, fields in entries]
