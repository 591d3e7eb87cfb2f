"""The Redis store's connection, its error translation and every read."""

from __future__ import annotations

import functools
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, TypeVar
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import AuthenticationError, RedisError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from moderation import jsoncodec
from moderation.exceptions import UnknownPost
from moderation.post import Post, Status
from moderation.queue import PUBLIC, AuditEntry, Event, QueueItem
from moderation.redis_changes import FIELDS, Changes, Keys, Record
from moderation.redis_scripts import APPLY, ITEMS, RECORDS, SNAPSHOT
from moderation.shares import screen_counts
from moderation.store import Store, StoreError, StoreUnavailable
from moderation.wall_state import Mode, Snapshot, WallState

logger = logging.getLogger(__name__)

# A change whose guards keep failing this many times means something is badly wrong.
ATTEMPTS = 50
# Entries an event stream keeps; screens further behind than a few thousand get a snapshot.
EVENTS_KEPT = 100_000
# The longest a blocking read waits, so that a dead connection is noticed.
WAIT_CAP = 10.0

P = ParamSpec("P")
T = TypeVar("T")
S = TypeVar("S", bound="RedisBase")
# Reads what a change depends on; returns the change to apply (None: nothing to write)
# and the result to give once it is applied.
Planner = Callable[[], Awaitable[tuple[Changes | None, T]]]


def where(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"


def translated(
    method: Callable[Concatenate[S, P], Coroutine[Any, Any, T]],
) -> Callable[Concatenate[S, P], Coroutine[Any, Any, T]]:
    """Turn driver errors into `StoreUnavailable` (try again later) or `StoreError`."""

    @functools.wraps(method)
    async def wrapper(self: S, *args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await method(self, *args, **kwargs)
        except AuthenticationError as exc:
            raise StoreError(f"Redis at {self.where} refused the credentials: {exc}") from exc
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise StoreUnavailable(f"Redis at {self.where} is unreachable: {exc}") from exc
        except RedisError as exc:
            raise StoreError(f"Redis at {self.where} refused a command: {exc}") from exc

    return wrapper


# Connections per pool, and how long a call waits for a free one before it fails.
POOL_SIZE = 64
POOL_WAIT = 10.0

class RedisBase(Store):
    """Posts in hashes, indexes in sorted sets, event logs and audit in streams."""

    def __init__(self, url: str, prefix: str = "hashwall:") -> None:
        self.url = url
        self.where = where(url)
        self.keys = Keys(prefix)
        self._redis: aioredis.Redis | None = None
        self._blocking: aioredis.Redis | None = None

    def _client(self, socket_timeout: float) -> aioredis.Redis:
        # When every pooled connection is busy (hundreds of screens reconnecting at once
        # after a restart) a call waits for one instead of failing with "Too many
        # connections". A couple of quick retries cover a connection that died with a restart.
        pool = aioredis.BlockingConnectionPool.from_url(
            self.url, decode_responses=True, socket_connect_timeout=2.0,
            socket_timeout=socket_timeout, max_connections=POOL_SIZE, timeout=POOL_WAIT,
            retry=Retry(ExponentialBackoff(0.5, 0.05), 2),
        )
        return aioredis.Redis(connection_pool=pool)

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

    async def _change(self, plan: Planner[T], what: str) -> T:
        """Read, plan and apply until no concurrent change came between the read and the write."""
        for _ in range(ATTEMPTS):
            changes, result = await plan()
            if changes is None:
                return result
            outcome = await self._apply(args=[changes.program(), EVENTS_KEPT, *changes.args])
            if outcome[0] != "retry":
                return result
        raise StoreError(f"could not {what}: other changes kept coming first")

    def _token(self) -> str:
        """A mark that a change writes on the posts it touches, to recognise its own work."""
        return secrets.token_hex(8)

    async def _record(self, post_id: str) -> Record | None:
        row: Any = await self.redis.hmget(self.keys.post(post_id), list(FIELDS))
        return Record.parse(row)

    async def _records(self, key: str, start: int, stop: int, newest: bool) -> list[Record]:
        rows = await self._items(keys=[key], args=[start, stop, "rev" if newest else "",
                                                   self.keys.post_prefix, *FIELDS])
        return [r for r in (Record.parse(row) for row in rows) if r is not None]

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

    async def _pinned(self) -> str | None:
        pinned: Any = await self.redis.hget(self.keys.wall, "pinned")
        return str(pinned) if pinned is not None else None

    @translated
    async def get(self, post_id: str) -> QueueItem | None:
        record = await self._record(post_id)
        return record.item if record else None

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
    async def last_seq(self, channel: str) -> int:
        return int(await self.redis.get(self.keys.seq(channel)) or 0)

    @translated
    async def events_after(self, channel: str, seq: int, limit: int = 500) -> list[Event]:
        entries: Any = await self.redis.xrange(self.keys.events(channel), min=f"{seq + 1}-0",
                                               max="+", count=limit)
        return [Event(int(id_.partition("-")[0]), f["type"], jsoncodec.loads(f["data"]))
                for id_, f in entries]

    @translated
    async def wait_for_events(self, channel: str, after: int, timeout: float) -> None:
        if self._blocking is None:
            raise StoreError("the store is not open")
        block = max(1, int(min(timeout, WAIT_CAP) * 1000))
        # XREAD returns at once when an entry above `after` exists, else waits for one.
        await self._blocking.xread({self.keys.events(channel): f"{after}-0"}, count=1,
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
