"""Failed sign-ins counted per key (address, and address with account), with growing delays.

A key's failures are remembered for an hour (sliding). The first 3 cost nothing; after the
k-th, with k > 3, the key waits `delay(k)` from that failure: 5 s, 10 s, 20 s, … doubling up
to 15 minutes. The keys are a client address and the pair of that address and an account,
never an account alone: wrong passwords from one address never delay a right password from
another.

With SQLite there is one web process and the failures live in its memory (`LoginThrottle`).
With Redis there may be many, so they live in Redis (`RedisThrottle`): otherwise an attacker
would get the free tries from each process.
"""

from __future__ import annotations

import ipaddress
import math
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Protocol

from moderation.store import Store

if TYPE_CHECKING:
    from moderation.stores.redis import RedisStore

# Failures that cost no wait.
FREE = 3
# The wait after the first failure past the free ones; each further failure doubles it.
FIRST_DELAY = 5.0
# The longest wait.
CAP = 15 * 60.0
# How long a failure is remembered.
MEMORY = 60 * 60.0
# Keys remembered at most; the oldest are forgotten first, so memory stays bounded.
MAX_KEYS = 10_000


def delay(failures: int, free: int = FREE, first_delay: float = FIRST_DELAY,
          cap: float = CAP) -> float:
    """The wait after a key's `failures`-th remembered failure, counted from that failure."""
    if failures <= free:
        return 0.0
    # The exponent is bounded so that a huge count cannot overflow a float: the cap wins.
    return min(cap, first_delay * 2.0 ** min(failures - free - 1, 64))


def failures_kept(free: int = FREE, first_delay: float = FIRST_DELAY, cap: float = CAP) -> int:
    """How many of its newest failures a key keeps: enough for the wait to reach the cap,
    and one more, for the attempt that a successful sign-in takes back."""
    return free + 1 + max(0, math.ceil(math.log2(cap / first_delay))) + 1


def _check(free: int, first_delay: float, cap: float, memory: float) -> None:
    if free < 0 or not 0 < first_delay <= cap or memory <= 0:
        raise ValueError(f"throttle: free={free} first_delay={first_delay} cap={cap} "
                         f"memory={memory}: expected free >= 0, 0 < first_delay <= cap, "
                         "memory > 0")


# COUNT and ATTEMPT start with this. KEYS: one sorted set of failure times per key (the member
# unique, the score the time). ARGV: now, memory, free, first delay, cap, failures kept and
# a member. `wait(key)` forgets the key's failures older than `memory` and answers the
# seconds it still waits (0 or less: none). Numbers go back to Python as strings, since
# Lua would truncate them to integers.
_WAIT = """
local now, memory, free = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local first, cap, keep, member = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7]
local function wait(key)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - memory)
  local failures = redis.call('ZCARD', key)
  if failures <= free then return 0 end
  local newest = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  return tonumber(newest[2]) + math.min(cap, first * 2 ^ (failures - free - 1)) - now
end
local function add(key)
  redis.call('ZADD', key, now, member)
  redis.call('ZREMRANGEBYRANK', key, 0, -keep - 1)
  redis.call('EXPIRE', key, math.ceil(memory))
end
"""
# With a member, counts one failure against every key; then answers the longest wait of
# the keys. A key keeps only its newest failures (`keep`, enough to reach the cap) and
# expires `memory` after its newest one.
COUNT = _WAIT + """
local longest = 0
for _, key in ipairs(KEYS) do
  if member ~= '' then add(key) end
  longest = math.max(longest, wait(key))
end
return tostring(longest)
"""
# A sign-in attempt, counted before the password is checked so that simultaneous guesses
# cannot all pass the check first. When a key waits, nothing is added and the longest wait
# is answered; otherwise the attempt is added to every key (as a failure until CANCEL takes
# it back) and '0' answered.
ATTEMPT = _WAIT + """
local longest = 0
for _, key in ipairs(KEYS) do longest = math.max(longest, wait(key)) end
if longest > 0 then return tostring(longest) end
for _, key in ipairs(KEYS) do add(key) end
return '0'
"""
CANCEL = """
for _, key in ipairs(KEYS) do redis.call('ZREM', key, ARGV[1]) end
return 0
"""
FORGET = "return redis.call('DEL', unpack(KEYS))"


class Throttle(Protocol):
    """Counts failed sign-ins per key (`ip:…`, `ip:…|account:…`) and says how long a key
    waits."""

    async def retry_after(self, *keys: str) -> float:
        """Seconds until every key may try again (0 when none waits)."""
        ...

    async def failed(self, *keys: str) -> None:
        """Count one failure against each key."""
        ...

    async def forget(self, key: str) -> None:
        """Clear a key's failures (an address and account pair after its sign-in)."""
        ...

    async def attempt(self, *keys: str) -> tuple[float, str]:
        """Count a sign-in attempt against each key, as a failure, unless one waits.

        Returns (seconds to wait, "") when a key waits, nothing counted; otherwise
        (0, mark). Counting before the password is checked keeps simultaneous guesses
        within the free tries. `cancel(mark, …)` takes back the attempt once it succeeded.
        """
        ...

    async def cancel(self, mark: str, *keys: str) -> None:
        """Take back an attempt counted by `attempt` (it signed in)."""
        ...


class LoginThrottle:
    """Growing delays after failures (see the module), in this process's memory."""

    def __init__(self, free: int = FREE, first_delay: float = FIRST_DELAY, cap: float = CAP,
                 memory: float = MEMORY, clock: Callable[[], float] = time.monotonic) -> None:
        _check(free, first_delay, cap, memory)
        self.free = free
        self.first_delay = first_delay
        self.cap = cap
        self.memory = memory
        self.clock = clock
        self.keep = failures_kept(free, first_delay, cap)
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.memory:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def _wait(self, key: str, now: float) -> float:
        times = self._recent(key, now)
        if len(times) <= self.free:
            return 0.0
        return times[-1] + delay(len(times), self.free, self.first_delay, self.cap) - now

    async def retry_after(self, *keys: str) -> float:
        """Seconds until every key may try again (0 when none waits)."""
        now = self.clock()
        return max([0.0, *(self._wait(key, now) for key in keys)])

    async def failed(self, *keys: str) -> None:
        """Count one failure against each key."""
        self._count(self.clock(), keys)

    async def forget(self, key: str) -> None:
        """Clear a key's failures (an address and account pair after its sign-in)."""
        self._failures.pop(key, None)

    async def attempt(self, *keys: str) -> tuple[float, str]:
        """Count a sign-in attempt against each key unless one waits (see Throttle)."""
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
            # Only the newest `keep` failures matter: the deque drops older ones itself.
            self._failures.setdefault(key, deque(maxlen=self.keep)).append(now)
            while len(self._failures) > MAX_KEYS:
                del self._failures[next(iter(self._failures))]


class RedisThrottle:
    """The same delays, counted in the store's Redis so that every web process shares them.

    Times are wall-clock (`time.time`), the one clock that processes on several machines
    share. A Redis that cannot be reached raises `StoreUnavailable` (503): a sign-in is
    refused rather than let through uncounted.
    """

    def __init__(self, store: RedisStore, free: int = FREE, first_delay: float = FIRST_DELAY,
                 cap: float = CAP, memory: float = MEMORY,
                 clock: Callable[[], float] = time.time) -> None:
        _check(free, first_delay, cap, memory)
        self.store = store
        self.free = free
        self.first_delay = first_delay
        self.cap = cap
        self.memory = memory
        self.clock = clock
        self.keep = failures_kept(free, first_delay, cap)
        self.prefix = f"{store.keys.prefix}throttle:"

    def key(self, key: str) -> str:
        """The Redis key holding `key`'s failure times."""
        return f"{self.prefix}{key}"

    async def _run(self, script: str, keys: Iterable[str], now: float, member: str) -> float:
        wait = await self.store.run_script(
            script, [self.key(k) for k in keys],
            [repr(now), repr(self.memory), self.free, repr(self.first_delay), repr(self.cap),
             self.keep, member])
        return max(0.0, float(wait))

    async def retry_after(self, *keys: str) -> float:
        """Seconds until every key may try again (0 when none waits)."""
        return await self._run(COUNT, keys, self.clock(), "")

    async def failed(self, *keys: str) -> None:
        """Count one failure against each key."""
        now = self.clock()
        # Two processes may fail a sign-in at the same instant: both failures must count.
        await self._run(COUNT, keys, now, f"{now!r}:{secrets.token_hex(6)}")

    async def forget(self, key: str) -> None:
        """Clear a key's failures (an address and account pair after its sign-in)."""
        await self.store.run_script(FORGET, [self.key(key)], [])

    async def attempt(self, *keys: str) -> tuple[float, str]:
        """Count a sign-in attempt against each key unless one waits (see Throttle)."""
        now = self.clock()
        member = f"{now!r}:{secrets.token_hex(6)}"
        wait = await self._run(ATTEMPT, keys, now, member)
        return (wait, "") if wait > 0 else (0.0, member)

    async def cancel(self, mark: str, *keys: str) -> None:
        """Take back an attempt counted by `attempt` (it signed in)."""
        await self.store.run_script(CANCEL, [self.key(k) for k in keys], [mark])


def throttle_for(store: Store, clock: Callable[[], float] | None = None) -> Throttle:
    """The throttle of a store: shared through Redis, or in this process for SQLite.

    `clock` replaces each one's own (wall-clock for Redis, monotonic in memory)."""
    if store.shared:
        # Imported only then: a wall on SQLite never loads the redis package.
        from moderation.stores.redis import RedisStore

        assert isinstance(store, RedisStore)
        return RedisThrottle(store) if clock is None else RedisThrottle(store, clock=clock)
    return LoginThrottle() if clock is None else LoginThrottle(clock=clock)


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
