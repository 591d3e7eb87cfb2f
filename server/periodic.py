"""A background task that does one thing every few seconds, owned by the lifespan."""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging

logger = logging.getLogger(__name__)


class Periodic(abc.ABC):
    """Calls `tick` every `interval` seconds until stopped; a failing tick is logged."""

    name = "periodic"

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    @abc.abstractmethod
    async def tick(self) -> None:
        """The work done once per interval."""

    async def start(self) -> None:
        """Start in the background."""
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        """Stop, waiting for the task to end."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("%s failed; trying again in %s s", self.name, self.interval)
