"""Fan-out of an event log to websocket clients that a slow client cannot slow down."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

from moderation.store import Store
from moderation.stores.base import LogReplaced
from server.protocol import encode
from server.ws_protocol import SLOW_CLIENT_UNSENT, text_frame

logger = logging.getLogger(__name__)

# How often (in messages offered to a client) its unsent bytes are counted.
UNSENT_CHECK_EVERY = 8

Send = Callable[[str], Awaitable[None]]
Close = Callable[[int, str], Coroutine[Any, Any, None]]

CLOSE_TOO_SLOW = 4008
# The store was replaced under a running server: every client resumes (and gets a reset).
CLOSE_SERVICE_RESTART = 1012


async def _gone(*args: object) -> None:
    raise RuntimeError("the app has handed this socket over to the hub")


class FrameSink(Protocol):
    """A socket that takes prebuilt frames directly (server/ws_protocol.py)."""

    @property
    def open_for_frames(self) -> bool: ...

    @property
    def gone(self) -> bool: ...

    def write_frame(self, frame: bytes) -> None: ...

    def unsent(self) -> int: ...

    def reset(self) -> None: ...

    async def wait_writable(self) -> None: ...

    def close_now(self, code: int, reason: str) -> None: ...

    def detach(self, on_lost: Callable[[], None]) -> None: ...


class Client:
    """One connected socket: a bounded backlog of encoded messages and its own writer.

    With a frame sink, a message goes straight to the socket when nothing waits before it
    and the socket takes it unbuffered; otherwise it waits in the backlog, and a writer
    task, started then and ending once the backlog is empty, sends it in order. An idle
    screen holds no task and no buffer.
    """

    __slots__ = ("backlog", "close", "dropped", "frames", "last_seq", "live", "name", "send",
                 "size", "until_check", "writer")

    def __init__(self, send: Send, close: Close, size: int, name: str = "",
                 frames: FrameSink | None = None) -> None:
        self.send = send
        self.close = close
        self.size = size
        self.frames = frames
        # Messages until the next look at what the client left unsent.
        self.until_check = 0
        self.backlog: deque[tuple[int, str, bytes]] | None = None
        self.writer: asyncio.Task[None] | None = None
        self.last_seq = 0
        # Nothing is written before `go_live`: the resume writes first.
        self.live = False
        self.dropped = False
        self.name = name

    async def write(self, seq: int, text: str) -> None:
        """Send one message unless the client already has it (resume overlap)."""
        if seq and seq <= self.last_seq:
            return
        await self.send(text)
        if seq:
            self.last_seq = seq

    def offer(self, seq: int, text: str, frame: bytes) -> bool:
        """Take one message; False when the backlog is full and the client must go."""
        frames = self.frames
        if frames is not None:
            # Counting the kernel's unsent bytes is a system call: made every
            # UNSENT_CHECK_EVERY messages, a fifth of the fan-out's cost per client spared,
            # a client that stopped reading is dropped at most that many messages later.
            self.until_check -= 1
            if self.until_check <= 0:
                self.until_check = UNSENT_CHECK_EVERY
                if frames.unsent() > SLOW_CLIENT_UNSENT:
                    return False  # kernel-buffered bytes count too: it stopped reading
        if self.live and not self.backlog and frames is not None and frames.open_for_frames:
            if seq > self.last_seq:
                frames.write_frame(frame)
                self.last_seq = seq
            elif not seq:
                frames.write_frame(frame)
            return True
        backlog = self.backlog
        if backlog is None:
            backlog = self.backlog = deque()
        elif len(backlog) >= self.size:
            return False
        backlog.append((seq, text, frame))
        if self.live and self.writer is None:
            self.writer = asyncio.create_task(self._drain())
        return True

    def reply(self, text: str) -> None:
        """Queue an answer to this client alone, behind what it already has to receive."""
        frame = text_frame(text.encode()) if self.frames is not None else b""
        # A client too far behind to take an answer is dropped by the next broadcast.
        self.offer(0, text, frame)

    def go_live(self) -> None:
        """Start delivering, beginning with what arrived while the client was resumed."""
        self.live = True
        if self.backlog and self.writer is None:
            self.writer = asyncio.create_task(self._drain())

    def stop(self) -> None:
        """Stop writing: the socket has ended."""
        if self.writer is not None:
            self.writer.cancel()

    async def _drain(self) -> None:
        try:
            await self._write_backlog()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # The socket broke under the writer; its handler sees it end too.
            logger.info("stopped writing to %s: %s", self.name, exc)
        finally:
            self.writer = None

    async def _write_backlog(self) -> None:
        frames, backlog = self.frames, self.backlog
        while backlog:
            seq, text, frame = backlog[0]
            if frames is None:
                await self.write(seq, text)
            else:
                await frames.wait_writable()
                if frames.gone:
                    return
                if not seq or seq > self.last_seq:
                    frames.write_frame(frame)
                    if seq:
                        self.last_seq = seq
            backlog.popleft()
        self.backlog = None


class Hub:
    """Follows one channel of the store and hands each event, encoded once, to every client."""

    def __init__(self, store: Store, channel: str, queue_size: int) -> None:
        self.store = store
        self.channel = channel
        self.queue_size = queue_size
        # In connection order: a broadcast reaches the screens in the order they came.
        self.clients: dict[Client, None] = {}
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

    def client(self, send: Send, close: Close, name: str = "",
               frames: FrameSink | None = None) -> Client:
        """A new client, registered so that it queues every event from now on."""
        client = Client(send, close, self.queue_size, name, frames)
        self.clients[client] = None
        return client

    def detach(self, client: Client) -> None:
        """Keep a listening client's socket in the hub alone, once its handler returns."""
        frames = client.frames
        if frames is None:
            raise ValueError(f"expected a client with a frame sink, got {client.name}")
        # The app's callables hold its whole connection (scope, session, middleware).
        client.send = client.close = _gone
        frames.detach(lambda: self.remove(client))
        client.go_live()

    def remove(self, client: Client) -> None:
        """Forget a client whose socket has ended."""
        self.clients.pop(client, None)
        client.stop()

    def publish(self, seq: int, text: str) -> None:
        """Hand one encoded message to every client, dropping those whose backlog is full."""
        frame = text_frame(text.encode())
        full = [client for client in self.clients if not client.offer(seq, text, frame)]
        for client in full:
            self._drop(client)

    def _drop(self, client: Client, code: int = CLOSE_TOO_SLOW, reason: str = "too slow") -> None:
        self.clients.pop(client, None)
        client.dropped = True
        if code == CLOSE_TOO_SLOW:
            self.dropped_total += 1
            logger.warning("dropping %s client %s: it stopped reading", self.channel,
                           client.name)
        if client.frames is not None and code == CLOSE_TOO_SLOW:
            # Reset, not closed politely: a close frame would wait behind what the client
            # never read, in the kernel's buffers, for minutes.
            client.frames.reset()
            return
        if client.frames is not None:
            client.frames.close_now(code, reason)
            return
        task = asyncio.create_task(client.close(code, reason))
        self._closers.add(task)
        task.add_done_callback(self._closers.discard)

    async def _run(self) -> None:
        while True:
            try:
                if self.position < 0:
                    self.position = await self.store.last_seq(self.channel)
                async for event in self.store.follow(self.channel, self.position):
                    self.position = event.seq
                    try:
                        text = encode(event.message())
                    except TypeError as exc:
                        # Never sent, never retried: one log line, and the log moves on.
                        logger.error("dropped %s event %d: it cannot be encoded (%s)",
                                     self.channel, event.seq, exc)
                        continue
                    self.publish(event.seq, text)
            except asyncio.CancelledError:
                raise
            except LogReplaced as exc:
                # Its clients hold positions in the old log: they resume, and get a reset.
                logger.warning("%s; closing %d clients so they start again", exc,
                               len(self.clients))
                for client in list(self.clients):
                    self._drop(client, CLOSE_SERVICE_RESTART, "store replaced")
                self.position = -1  # read again below, as the new log stands
            except Exception:
                logger.exception("following the %s event log failed; retrying", self.channel)
                await asyncio.sleep(1.0)
