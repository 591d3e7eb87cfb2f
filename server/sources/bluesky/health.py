"""What each Jetstream host has done: connected, lag, events per second, reconnects."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class RateMeter:
    """Events per second over the last `window` seconds."""

    def __init__(self, window: int = 10, clock: Callable[[], float] = time.monotonic) -> None:
        self.window, self.clock = window, clock
        self._buckets: deque[list[int]] = deque()

    def add(self, count: int = 1) -> None:
        """Count `count` events now."""
        second = int(self.clock())
        if self._buckets and self._buckets[-1][0] == second:
            self._buckets[-1][1] += count
        else:
            self._buckets.append([second, count])
            while self._buckets[0][0] <= second - self.window:
                self._buckets.popleft()

    def rate(self) -> float:
        """The average rate over the window."""
        floor = int(self.clock()) - self.window
        return sum(n for second, n in self._buckets if second > floor) / self.window


@dataclass
class HostStats:
    """One Jetstream host's counters, for /healthz and /metrics."""

    connected: bool = False
    connects: int = 0
    last_time_us: int | None = None
    seen: int = 0
    matched: int = 0
    malformed: int = 0
    last_error: str | None = None
    seen_rate: RateMeter = field(default_factory=RateMeter)
    matched_rate: RateMeter = field(default_factory=RateMeter)

    def lag(self, now: float | None = None) -> float | None:
        """Seconds between now and the newest event's `time_us`, or None before one."""
        if self.last_time_us is None:
            return None
        return max(0.0, (time.time() if now is None else now) - self.last_time_us / 1e6)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready form /healthz shows."""
        lag = self.lag()
        return {
            "connected": self.connected,
            "lag_seconds": None if lag is None else round(lag, 3),
            "last_time_us": self.last_time_us,
            "events_seen": self.seen,
            "events_matched": self.matched,
            "events_per_second": round(self.seen_rate.rate(), 2),
            "matched_per_second": round(self.matched_rate.rate(), 2),
            "malformed": self.malformed,
            "reconnects": max(self.connects - 1, 0),
            "last_error": self.last_error,
        }
