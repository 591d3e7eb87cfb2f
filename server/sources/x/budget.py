"""X bills every post it sends: the posts read per calendar month, counted in the store
(so restarts and several processes add up), their estimated cost, and the budget."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from moderation.store import Store

logger = logging.getLogger(__name__)

# X's pay-per-use price of one post read, in US dollars (HASHWALL_X_PRICE_PER_READ).
PRICE_PER_READ = 0.005
# Moderators are warned when this share of the monthly budget is read.
WARNING_SHARE = 0.8
OK = "ok"
WARNING = "warning"
EXHAUSTED = "exhausted"


def counter_name(moment: datetime) -> str:
    """The store counter of the posts read in `moment`'s calendar month (UTC)."""
    return f"x.reads.{moment.astimezone(UTC):%Y-%m}"


@dataclass(frozen=True, slots=True)
class Reading:
    """The reads of one month against the budget: pure figures."""

    month: str
    reads: int
    budget: int | None
    price: float

    @property
    def cost(self) -> float:
        """The estimated bill so far, in US dollars."""
        return round(self.reads * self.price, 4)

    @property
    def state(self) -> str:
        """ok, warning (from WARNING_SHARE of the budget) or exhausted."""
        if self.budget is None:
            return OK
        if self.reads >= self.budget:
            return EXHAUSTED
        return WARNING if self.reads >= WARNING_SHARE * self.budget else OK

    def reason(self) -> str:
        """Why the stream stopped, or is about to, in plain words."""
        share = f"{self.reads / self.budget:.0%}" if self.budget else "no limit"
        return (f"X read budget {self.state}: {self.reads} of {self.budget} posts read in "
                f"{self.month} ({share}, about ${self.cost:.2f}); see "
                "HASHWALL_X_MONTHLY_READ_BUDGET")

    def to_dict(self) -> dict[str, object]:
        """The JSON-ready form in the source's health."""
        return {"month": self.month, "reads": self.reads, "budget": self.budget,
                "price_per_read": self.price, "estimated_cost_usd": self.cost,
                "state": self.state}


class ReadCounter:
    """Counts the posts X sent this month: in memory at once, in the store every `interval`
    seconds or `batch` posts (and at once when the budget is reached), so that every process
    following X adds to one total."""

    def __init__(self, store: Store | None, budget: int | None, price: float = PRICE_PER_READ,
                 *, interval: float = 1.0, batch: int = 100,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC),
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.budget = budget
        self.price = price
        self.interval = interval
        self.batch = batch
        self.now = now
        self.monotonic = monotonic
        self._name = counter_name(now())
        self._stored = 0  # the store's total when last read or written
        self._unsaved = 0
        self._saved_at = monotonic()
        self._later: asyncio.Task[None] | None = None

    def reading(self) -> Reading:
        """This month's figures as this process knows them."""
        return Reading(self._name.removeprefix("x.reads."), self._stored + self._unsaved,
                       self.budget, self.price)

    async def load(self) -> Reading:
        """Read this month's total from the store."""
        await self._roll()
        if self.store is not None:
            self._stored = await self.store.get_count(self._name)
        return self.reading()

    async def add(self, amount: int = 1) -> Reading:
        """Count posts read; write to the store when due."""
        await self._roll()
        self._unsaved += amount
        due = (self._unsaved >= self.batch
               or self.monotonic() - self._saved_at >= self.interval
               or self.reading().state == EXHAUSTED)
        if due:
            await self.flush()
        elif self._later is None or self._later.done():
            # Written within `interval` even when no other post follows.
            self._later = asyncio.create_task(self._flush_later(), name="x-reads-flush")
        return self.reading()

    async def _flush_later(self) -> None:
        await asyncio.sleep(self.interval)
        try:
            await self.flush()
        except Exception:
            logger.exception("could not write the X reads counted to the store")

    async def close(self) -> None:
        """Write what is unsaved and stop the delayed write."""
        later, self._later = self._later, None
        if later is not None:
            later.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await later
        await self.flush()

    async def flush(self) -> None:
        """Write what was counted and not written yet."""
        if self.store is None or not self._unsaved:
            self._saved_at = self.monotonic()
            return
        amount, self._unsaved = self._unsaved, 0
        try:
            self._stored = await self.store.add_count(self._name, amount)
        except Exception:
            self._unsaved += amount  # counted again with the next write
            raise
        self._saved_at = self.monotonic()

    async def _roll(self) -> None:
        """A new calendar month starts from nothing; the old month's count is written first."""
        name = counter_name(self.now())
        if name != self._name:
            await self.flush()
            self._name, self._stored, self._unsaved = name, 0, 0
            if self.store is not None:
                self._stored = await self.store.get_count(name)
