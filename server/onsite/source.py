"""The `onsite` source: posts sent from attendees' phones, handed to the pipeline.

It runs in every web process (the phones reach the web processes), not only where the
other sources ingest. Photos are re-encoded in worker threads, a few at a time, so that
a burst of uploads neither blocks the event loop nor holds many decoded images at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from moderation.post import Post
from moderation.queue import QueueItem
from moderation.store import Store
from server.onsite import records
from server.onsite.photo import Photo, reencode
from server.settings import Settings

# Photos decoded at once per process: each may take up to ~200 MB while it is decoded.
DECODERS = 2

Offer = Callable[[Post], Awaitable[QueueItem | None]]


class OnsiteSource:
    """Phones' posts: the secret of their tokens, photo decoding, and the hand-off."""

    name = "onsite"

    def __init__(self, settings: Settings, store: Store, offer: Offer) -> None:
        self.settings = settings
        self.store = store
        self._offer = offer
        self.secret = b""
        self.received = 0
        self.refused = 0
        self._decoders = asyncio.Semaphore(DECODERS)

    async def start(self) -> None:
        """Read (or make) the secret every web process shares."""
        self.secret = await records.shared_secret(self.store, self.settings.secret_key)

    async def stop(self) -> None:
        """Nothing runs in the background."""

    def health(self) -> dict[str, Any]:
        """What /healthz shows of the source."""
        return {"ok": True, "received": self.received, "refused": self.refused}

    async def reencode(self, data: bytes, content_type: str, filename: str) -> Photo:
        """The photo decoded and re-encoded in a worker thread; `PhotoRefused` if unsound."""
        async with self._decoders:
            return await asyncio.to_thread(reencode, data, content_type, filename)

    async def offer(self, post: Post) -> QueueItem | None:
        """Hand a post on to the queue (through the rules); its item once queued."""
        self.received += 1
        return await self._offer(post)
