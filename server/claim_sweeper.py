"""Returns to the pool the batches whose moderator stopped reviewing them in time."""

from __future__ import annotations

import logging

from moderation.store import Store
from server.periodic import Periodic

logger = logging.getLogger(__name__)

INTERVAL = 5.0


class ClaimSweeper(Periodic):
    """Every few seconds, releases the claims that ran out (`Store.release_expired`)."""

    name = "claim-sweeper"

    def __init__(self, store: Store, interval: float = INTERVAL) -> None:
        super().__init__(interval)
        self.store = store

    async def tick(self) -> None:
        released = await self.store.release_expired()
        if released:
            logger.info("claims ran out; back in the pool: %s", ", ".join(released))
