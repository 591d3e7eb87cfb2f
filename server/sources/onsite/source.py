"""The `onsite` source: posts sent from attendees' phones, handed to the pipeline.

It runs in every web process (the phones reach the web processes), not only where the
other sources ingest. Photos are decoded and re-encoded in worker processes of low
priority (nice 15), a few at a time: the event loop that feeds every screen keeps its
core and never waits for the GIL while a large photo decodes. At most UPLOADS bodies are
read at once; the others wait with their bytes still in the network's buffers, so a
burst of uploads holds a bounded amount of memory.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from moderation.post import Post
from moderation.queue import QueueItem
from moderation.store import Store
from server.pipeline import Pipeline
from server.settings import Settings
from server.sources.base import Sink
from server.sources.onsite import records
from server.sources.onsite.photo import Photo, reencode

# Photos decoded at once per web process, each in its own worker process.
DECODERS = 2
# Submissions whose body is read at once per web process (each up to the photo limit).
UPLOADS = 8
# How much less the decoders weigh than the web process for the kernel's scheduler.
DECODER_NICENESS = 15


def _lower_priority() -> None:
    os.nice(DECODER_NICENESS)


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
        self.uploads = asyncio.Semaphore(UPLOADS)
        self._decoders: ProcessPoolExecutor | None = None

    async def start(self) -> None:
        """Read (or make) the secret every web process shares."""
        self.secret = await records.shared_secret(self.store, self.settings.secret_key)

    async def stop(self) -> None:
        """Stop the photo decoders, if any started."""
        if self._decoders is not None:
            decoders, self._decoders = self._decoders, None
            await asyncio.to_thread(decoders.shutdown, cancel_futures=True)

    def health(self) -> dict[str, Any]:
        """What /healthz shows of the source."""
        return {"ok": True, "received": self.received, "refused": self.refused}

    async def reencode(self, data: bytes, content_type: str, filename: str) -> Photo:
        """The photo decoded and re-encoded in a worker thread; `PhotoRefused` if unsound."""
        if self._decoders is None:
            # Started on the first photo; spawned, not forked: a copy of a running server
            # (its sockets, its threads) is not a safe start for a worker.
            self._decoders = ProcessPoolExecutor(
                DECODERS, mp_context=multiprocessing.get_context("spawn"),
                initializer=_lower_priority)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._decoders, reencode, data, content_type, filename)

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
