"""Where a source resumes after a restart, kept in the store."""

from __future__ import annotations

import time
from collections.abc import Callable

from moderation.store import Store


class SourceCursor:
    """Where a source's connection `key` resumes after a restart, kept in the store.

    `note(value)` remembers the newest position and writes it at most every `interval`
    seconds; `flush()` writes what was noted and not written yet (call it when stopping).
    """

    def __init__(self, store: Store, source: str, key: str = "", interval: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.source = source
        self.key = key
        self.interval = interval
        self.clock = clock
        self._noted: str | None = None
        self._saved: str | None = None
        self._saved_at = float("-inf")

    async def load(self) -> str | None:
        """The saved position, or None when there is none."""
        self._saved = await self.store.get_cursor(self.source, self.key)
        return self._saved

    async def save(self, value: str) -> None:
        """Write `value` now."""
        await self.store.set_cursor(self.source, self.key, value)
        self._saved, self._noted, self._saved_at = value, None, self.clock()

    async def note(self, value: str) -> None:
        """Remember `value`; write it when the last write is `interval` old."""
        self._noted = value
        if self.clock() - self._saved_at >= self.interval:
            await self.save(value)

    async def flush(self) -> None:
        """Write the last noted position if it was not written yet."""
        if self._noted is not None and self._noted != self._saved:
            await self.save(self._noted)
