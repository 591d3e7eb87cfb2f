"""Failed sign-ins counted per address and per account, over a sliding window.

With SQLite there is one web process and the counts live in its memory (`LoginThrottle`).
With Redis there may be many, so the counts live in Redis (`RedisThrottle`): otherwise an
attacker would get 5 tries from each process.
"""

from __future__ import annotations

import ipaddress
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Protocol

from moderation.store import Store

if TYPE_CHECKING:
    from moderation.stores.redis import RedisStore

MAX_FAILURES = 5
WINDOW = 15 * 60.0
# Keys remembered at most; the oldest are forgotten first, so memory stays bounded.
MAX_KEYS = 10_000

# KEYS: one sorted set of failure times per key. ARGV: now, window, limit, and a member to
# add (empty: only look). Returns the seconds until every key may try again, as a string
# (Lua would truncate a number to an integer). Only the newest `limit` failures matter, so
# each set keeps no more, and expires once its newest failure has left the window.
COUNT = """
local now, window, limit, member = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local wait = 0
for _, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if member ~= '' then
    redis.call('ZADD', key, now, member)
    redis.call('ZREMRANGEBYRANK', key, 0, -limit - 1)
    redis.call('EXPIRE', key, math.ceil(window))
  end
  if redis.call('ZCARD', key) >= limit then
    local oldest = redis.call('ZRANGE', key, -limit, -limit, 'WITHSCORES')
    wait = math.max(wait, tonumber(oldest[2]) + window - now)
  end
end
return tostring(wait)
"""
# A sign-in attempt, counted before the password is checked so that simultaneous guesses
# cannot all pass the check first. KEYS and ARGV as for COUNT, with a member always. When a
# key is blocked nothing is added and the wait is returned; otherwise the attempt is added
# to every key (as a failure until CANCEL takes it back) and '0' returned.
ATTEMPT = """
local now, window, limit, member = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local wait = 0
for _, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) >= limit then
    local oldest = redis.call('ZRANGE', key, -limit, -limit, 'WITHSCORES')
    wait = math.max(wait, tonumber(oldest[2]) + window - now)
  end
end
if wait > 0 then return tostring(wait) end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, member)
  redis.call('ZREMRANGEBYRANK', key, 0, -limit - 1)
  redis.call('EXPIRE', key, math.ceil(window))
end
return '0'
"""
CANCEL = """
for _, key in ipairs(KEYS) do redis.call('ZREM', key, ARGV[1]) end
return 0
"""
FORGET = "return redis.call('DEL', unpack(KEYS))"


class Throttle(Protocol):
    """Counts failed sign-ins per key (`ip:…`, `account:…`) and says how long a key waits."""

    async def retry_after(self, *keys: str) -> float:
        """Seconds until every key may try again (0 when none is blocked)."""
        ...

    async def failed(self, *keys: str) -> None:
        """Count one failure against each key."""
        ...

    async def forget(self, key: str) -> None:
        """Clear a key's failures (an account after its own successful sign-in)."""
        ...

    async def attempt(self, *keys: str) -> tuple[float, str]:
        """Count a sign-in attempt against each key, as a failure, unless one is blocked.

        Returns (seconds to wait, "") when a key is blocked, nothing counted; otherwise
        (0, mark). Counting before the password is checked keeps simultaneous guesses
        within the limit. `cancel(mark, …)` takes back the attempt once it succeeded.
        """
        ...

    async def cancel(self, mark: str, *keys: str) -> None:
        """Take back an attempt counted by `attempt` (it signed in)."""
        ...


class LoginThrottle:
    """At most `limit` failures per `window` seconds for each key, in this process's memory."""

    def __init__(self, limit: int = MAX_FAILURES, window: float = WINDOW,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    async def retry_after(self, *keys: str) -> float:
        """Seconds until every key may try again (0 when none is blocked)."""
        now = self.clock()
        wait = 0.0
        for key in keys:
            times = self._recent(key, now)
            if len(times) >= self.limit:
                wait = max(wait, times[-self.limit] + self.window - now)
        return wait

    async def failed(self, *keys: str) -> None:
        """Count one failure against each key."""
        self._count(self.clock(), keys)

    async def forget(self, key: str) -> None:
        """Clear a key's failures (an account after its own successful sign-in)."""
        self._failures.pop(key, None)

    async def attempt(self, *keys: str) -> tuple[float, str]:
        """Count a sign-in attempt against each key unless one is blocked (see Throttle)."""
        wait = await self.retry_after(*keys)
        if wait > 0:
            return wait, ""
        # No await between the check and the count: no other sign-in can come between.
        now = self.clock()
        self._count(now, keys)
        return 0.0, repr(now)

    async def cancel(self, mark: str, *keys: str) -> None:
        """Take back an attempt counted by `attempt` (it signed in)."""
        at = float(mark)
        for key in keys:
            times = self._failures.get(key)
            if times is not None and at in times:
                times.remove(at)

    def _count(self, now: float, keys: tuple[str, ...]) -> None:
        for key in keys:
            self._recent(key, now)
            self._failures.setdefault(key, deque()).append(now)
            while len(self._failures) > MAX_KEYS:
                del self._failures[next(iter(self._failures))]


class RedisThrottle:
    """The same limit, counted in the store's Redis so that every web process shares it.

    Times are wall-clock (`time.time`), the one clock that processes on several machines
    share. A Redis that cannot be reached raises `StoreUnavailable` (503): a sign-in is
    refused rather than let through uncounted.
    """

    def __init__(self, store: RedisStore, limit: int = MAX_FAILURES, window: float = WINDOW,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.limit = limit
        self.window = window
        self.clock = clock
        self.prefix = f"{store.keys.prefix}throttle:"

    def key(self, key: str) -> str:
        """The Redis key holding `key`'s failure times."""
        return f"{self.prefix}{key}"

    async def _count(self, keys: Iterable[str], add: bool) -> float:
        now = self.clock()
        # Two processes may fail a sign-in at the same instant: both failures must count.
        member = f"{now!r}:{secrets.token_hex(6)}" if add else ""
        wait = await self.store.run_script(COUNT, [self.key(k) for k in keys],
                                           [repr(now), repr(self.window), self.limit, member])
        return max(0.0, float(wait))

    async def retry_after(self, *keys: str) -> float:
        """Seconds until every key may try again (0 when none is blocked)."""
        return await self._count(keys, add=False)

    async def failed(self, *keys: str) -> None:
        """Count one failure against each key."""
        await self._count(keys, add=True)

    async def forget(self, key: str) -> None:
        """Clear a key's failures (an account after its own successful sign-in)."""
        await self.store.run_script(FORGET, [self.key(key)], [])

    async def attempt(self, *keys: str) -> tuple[float, str]:
        """Count a sign-in attempt against each key unless one is blocked (see Throttle)."""
        now = self.clock()
        member = f"{now!r}:{secrets.token_hex(6)}"
        wait = float(await self.store.run_script(
            ATTEMPT, [self.key(k) for k in keys],
            [repr(now), repr(self.window), self.limit, member]))
        return (wait, "") if wait > 0 else (0.0, member)

    async def cancel(self, mark: str, *keys: str) -> None:
        """Take back an attempt counted by `attempt` (it signed in)."""
        await self.store.run_script(CANCEL, [self.key(k) for k in keys], [mark])


def throttle_for(store: Store) -> Throttle:
    """The throttle of a store: shared through Redis, or in this process for SQLite."""
    if store.shared:
        # Imported only then: a wall on SQLite never loads the redis package.
        from moderation.stores.redis import RedisStore

        assert isinstance(store, RedisStore)
        return RedisThrottle(store)
    return LoginThrottle()


def address_key(host: str | None) -> str:
    """The throttle key of a client address: IPv4 as is, IPv6 by its /64 (one household or
    one machine holds a whole /64, and picks any address in it at will)."""
    if not host:
        return "ip:?"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return f"ip:{host[:64]}"
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is None:
        return f"ip:{ipaddress.ip_network(f'{address}/64', strict=False)}"
    return f"ip:{address.ipv4_mapped or address}" if isinstance(
        address, ipaddress.IPv6Address) else f"ip:{address}"
