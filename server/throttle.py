"""Failed sign-ins counted per address and per account, over a sliding window."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

MAX_FAILURES = 5
WINDOW = 15 * 60.0
# Keys remembered at most; the oldest are forgotten first, so memory stays bounded.
MAX_KEYS = 10_000


class LoginThrottle:
    """At most `limit` failures per `window` seconds for each key (`ip:…`, `account:…`)."""

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

    def retry_after(self, *keys: str) -> float:
        """Seconds until every key may try again (0 when none is blocked)."""
        now = self.clock()
        wait = 0.0
        for key in keys:
            times = self._recent(key, now)
            if len(times) >= self.limit:
                wait = max(wait, times[-self.limit] + self.window - now)
        return wait

    def failed(self, *keys: str) -> None:
        """Count one failure against each key."""
        now = self.clock()
        for key in keys:
            self._recent(key, now)
            self._failures.setdefault(key, deque()).append(now)
            while len(self._failures) > MAX_KEYS:
                del self._failures[next(iter(self._failures))]

    def forget(self, key: str) -> None:
        """Clear a key's failures (an account after its own successful sign-in)."""
        self._failures.pop(key, None)
