"""Where the stream is, and which events were already handled: a cursor rewound a few
seconds on every reconnect, with the events seen again skipped, gives a stream with no gap
and no repeat."""

from __future__ import annotations

from server.sources.bluesky.events import Commit, Event


def event_key(event: Event) -> tuple[object, ...]:
    """What tells two events apart: the same key seen again is the same event replayed."""
    if isinstance(event, Commit):
        return (event.time_us, event.did, event.collection, event.rkey, event.operation,
                event.cid)
    return (event.time_us, event.did, type(event).__name__)


class StreamPosition:
    """The newest `time_us` handled and the events of the last `2 × rewind` seconds."""

    def __init__(self, rewind_us: int, last: int | None = None) -> None:
        self.rewind_us = rewind_us
        self.last = last
        self._seen: dict[tuple[object, ...], int] = {}
        self._pruned_at = 0

    def resume_cursor(self) -> int | None:
        """The cursor to reconnect with: a little before the newest event handled."""
        return None if self.last is None else max(self.last - self.rewind_us, 0)

    def first_time(self, event: Event) -> bool:
        """Whether `event` is new (and remember it); False for a replayed one."""
        key = event_key(event)
        if key in self._seen:
            return False
        time_us = event.time_us
        self._seen[key] = time_us
        if self.last is None or time_us > self.last:
            self.last = time_us
        if len(self._seen) - self._pruned_at > 4096:
            self._prune()
        return True

    def _prune(self) -> None:
        assert self.last is not None
        horizon = self.last - 2 * self.rewind_us
        self._seen = {k: t for k, t in self._seen.items() if t >= horizon}
        self._pruned_at = len(self._seen)
