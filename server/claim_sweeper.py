"""Returns to the pool the batches whose moderator stopped reviewing them in time."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from moderation.store import Store

logger = logging.getLogger(__name__)

INTERVAL = 5.0


class ClaimSweeper:
    """Every few seconds, releases the claims that ran out (`Store.release_expired`)."""

    def __init__(self, store: Store, interval: float = INTERVAL) -> None:
        self.store = store
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start sweeping in the background."""
        self._task = asyncio.create_task(self._run(), name="claim-sweeper")

    async def stop(self) -> None:
        """Stop sweeping."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                released = await self.store.release_expired()
                if released:
                    logger.info("claims ran out; back in the pool: %s", ", ".join(released))
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("releasing expired claims failed; retrying")
            await asyncio.sleep(self.interval)
