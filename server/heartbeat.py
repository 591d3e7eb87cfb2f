"""A heartbeat on every socket, so that pages notice a connection that died silently."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from server import protocol
from server.fanout import Hub

logger = logging.getLogger(__name__)


class Heartbeat:
    """Publishes one `heartbeat` message to every client of some hubs at a fixed interval."""

    def __init__(self, hubs: list[Hub], interval: float = protocol.HEARTBEAT_SECONDS) -> None:
        self.hubs = hubs
        self.interval = interval
        self.text = protocol.encode({"type": protocol.HEARTBEAT, "interval": interval})
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start beating in the background."""
        self._task = asyncio.create_task(self._run(), name="heartbeat")

    async def stop(self) -> None:
        """Stop beating."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            for hub in self.hubs:
                try:
                    # Sequence number 0: not an event, never skipped as already seen.
                    hub.publish(0, self.text)
                except Exception:
                    logger.exception("heartbeat on the %s sockets failed", hub.channel)
