"""Latency tracers: real websocket clients (the `websockets` library) that time each post."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import time
from collections.abc import Iterator
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

OPEN_TIMEOUT = 30.0


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No garbage collection in this process while its tracers time posts, one right after.

    A full collection of the driver's heap takes tens of milliseconds, during which the
    tracers read nothing: it would be counted as the server's latency.
    """
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()


class Tracers:
    """A few screens that note, for each post shown, when it arrived (time.monotonic)."""

    def __init__(self, url: str, count: int) -> None:
        self.url = url
        self.count = count
        self.arrivals: dict[str, list[float]] = {}
        self.sockets: list[ClientConnection] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.changed = asyncio.Event()

    async def start(self) -> None:
        """Connect every tracer and wait for its snapshot."""
        for _ in range(self.count):
            ws = await connect(self.url, compression=None, open_timeout=OPEN_TIMEOUT,
                               max_size=None)
            first = json.loads(await asyncio.wait_for(ws.recv(), OPEN_TIMEOUT))
            if first.get("type") != "snapshot":
                raise RuntimeError(f"expected a snapshot first, got {first.get('type')!r}")
            self.sockets.append(ws)
            self.tasks.append(asyncio.create_task(self._read(ws)))

    async def _read(self, ws: ClientConnection) -> None:
        async for raw in ws:
            arrived = time.monotonic()
            message: dict[str, Any] = json.loads(raw)
            if message.get("type") == "post.shown":
                self.arrivals.setdefault(message["post"]["id"], []).append(arrived)
                self.changed.set()

    async def wait_for(self, post_ids: list[str], timeout: float) -> bool:
        """Wait until every tracer saw every post; False after `timeout`."""
        deadline = time.monotonic() + timeout
        while not all(len(self.arrivals.get(p, ())) >= self.count for p in post_ids):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), left)
        return True

    def latencies(self, sent: dict[str, float]) -> list[float]:
        """Approve-to-screen times in milliseconds, one per tracer and post."""
        return [(arrived - sent[post_id]) * 1000
                for post_id, at in sent.items() for arrived in self.arrivals.get(post_id, ())]

    async def stop(self) -> None:
        """Close every tracer."""
        for task in self.tasks:
            task.cancel()
        for ws in self.sockets:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 5)
        await asyncio.gather(*self.tasks, return_exceptions=True)
