"""Fan-out of an event log to websocket clients that a slow client cannot slow down."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from moderation.store import Store, StoreUnavailable
from server.protocol import encode

logger = logging.getLogger(__name__)

Send = Callable[[str], Awaitable[None]]
Close = Callable[[int, str], Coroutine[Any, Any, None]]

CLOSE_TOO_SLOW = 4008


class Client:
    """One connected socket: a bounded queue of encoded messages and its own writer."""

    __slots__ = ("close", "dropped", "last_seq", "name", "queue", "send")

    def __init__(self, send: Send, close: Close, size: int, name: str = "") -> None:
        self.send = send
        self.close = close
        self.queue: asyncio.Queue[tuple[int, str]] = asyncio.Queue(size)
        self.last_seq = 0
        self.dropped = False
        self.name = name

    async def write(self, seq: int, text: str) -> None:
        """Send one message unless the client already has it (resume overlap)."""
        if seq and seq <= self.last_seq:
            return
        await self.send(text)
        if seq:
            self.last_seq = seq

    def reply(self, text: str) -> None:
        """Queue an answer to this client alone, behind what it already has to receive."""
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait((0, text))

    async def pump(self) -> None:
        """Write queued messages until cancelled."""
        while True:
            seq, text = await self.queue.get()
            await self.write(seq, text)


class Hub:
    """Follows one channel of the store and hands each event, encoded once, to every client."""

    def __init__(self, store: Store, channel: str, queue_size: int) -> None:
        self.store = store
        self.channel = channel
        self.queue_size = queue_size
        self.clients: set[Client] = set()
        self.position = 0
        self.dropped_total = 0
        self._task: asyncio.Task[None] | None = None
        self._closers: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Start following the channel from its newest event."""
        self.position = await self.store.last_seq(self.channel)
        self._task = asyncio.create_task(self._run(), name=f"hub-{self.channel}")

    async def stop(self) -> None:
        """Stop following; clients are closed by their own handlers."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for task in list(self._closers):
            task.cancel()

    def client(self, send: Send, close: Close, name: str = "") -> Client:
        """A new client, registered so that it queues every event from now on."""
        client = Client(send, close, self.queue_size, name)
        self.clients.add(client)
        return client

    def remove(self, client: Client) -> None:
        """Forget a client whose socket has ended."""
        self.clients.discard(client)

    def publish(self, seq: int, text: str) -> None:
        """Queue one encoded message for every client, dropping those whose queue is full."""
        for client in tuple(self.clients):
            try:
                client.queue.put_nowait((seq, text))
            except asyncio.QueueFull:
                self._drop(client)

    def _drop(self, client: Client) -> None:
        self.clients.discard(client)
        client.dropped = True
        self.dropped_total += 1
        logger.warning("dropping %s client %s: it stopped reading", self.channel, client.name)
        task = asyncio.create_task(client.close(CLOSE_TOO_SLOW, "too slow"))
        self._closers.add(task)
        task.add_done_callback(self._closers.discard)

    async def _run(self) -> None:
        while True:
            try:
                async for event in self.store.follow(self.channel, self.position):
                    self.position = event.seq
                    self.publish(event.seq, encode(event.message()))
            except asyncio.CancelledError:
                raise
            except StoreUnavailable as exc:
                # Redis is restarting: resume from `position` once it answers, no gap.
                logger.warning("the %s event log is out of reach; retrying: %s", self.channel, exc)
                await asyncio.sleep(1.0)
            except Exception:
                logger.exception("following the %s event log failed; retrying", self.channel)
                await asyncio.sleep(1.0)
