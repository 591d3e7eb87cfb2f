"""The `onsite` source: posts sent from attendees' phones, handed to the pipeline.

It runs in every web process (the phones reach the web processes), not only where the
other sources ingest. Photos are re-encoded in worker threads, a few at a time, so that
a burst of uploads neither blocks the event loop nor holds many decoded images at once.
"""

from __future__ import annotations

import asyncio
from typing import Any

from moderation.post import Post
from moderation.queue import QueueItem
from moderation.store import Store
from server.pipeline import Pipeline
from server.settings import Settings
from server.sources.base import Sink
from server.sources.onsite import records
from server.sources.onsite.photo import Photo, reencode

# Photos decoded at once per process: each may take up to ~200 MB while it is decoded.
DECODERS = 2


class OnsiteSource:
    """Phones' posts: the secret of their tokens, photo decoding, and the hand-off."""

    name = "onsite"

    def __init__(self, settings: Settings, sink: Sink, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.sink = sink
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
        """Hand a post on to the queue (through the rules); its item once queued, when the
        sink is the pipeline (the phone is then answered with the post's real state)."""
        self.received += 1
        if isinstance(self.sink, Pipeline):
            return await self.sink.ingest(post)
        await self.sink.offer(post)
        return None


def source(settings: Settings, sink: Sink, store: Store) -> OnsiteSource:
    """The registry's factory of the `onsite` source."""
    return OnsiteSource(settings, sink, store)
