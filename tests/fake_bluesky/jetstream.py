"""A fake Jetstream v1 host: `/subscribe` with `wantedCollections`, `cursor` replay by
`time_us`, `compress=true` (zstd frames with a dictionary), dropped connections."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

import orjson
import zstandard
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from server.sources.bluesky.compression import shipped_dictionary


@dataclass
class StoredEvent:
    """One event as the host keeps it: its bytes and what subscriptions filter on."""

    raw: bytes
    time_us: int
    collection: str | None


@dataclass
class Subscription:
    """One connected client: what it asked for and where its live events go."""

    collections: frozenset[str]
    compress: bool
    cursor: int | None
    live: asyncio.Queue[StoredEvent | None] = field(default_factory=asyncio.Queue)
    sent: int = 0


class JetstreamCompressor:
    """Makes frames as Jetstream v1 does for `compress=true`: one zstd frame per event, at
    the default level, with the dictionary, a 128 KiB window and a checksum."""

    def __init__(self, dictionary: bytes) -> None:
        params = zstandard.ZstdCompressionParameters.from_level(
            3, window_log=17, write_checksum=True)
        self._context = zstandard.ZstdCompressor(
            dict_data=zstandard.ZstdCompressionDict(dictionary), compression_params=params)

    def compress(self, data: bytes) -> bytes:
        """One zstd frame of `data`."""
        return self._context.compress(data)


class FakeJetstream:
    """Serves stored events to subscribers; tests `publish` new ones and can drop clients."""

    def __init__(self, dictionary: bytes | None = None) -> None:
        # Jetstream compresses with its published dictionary; a test may give another.
        self.dictionary = dictionary or shipped_dictionary()
        self.events: list[StoredEvent] = []
        self.compressor = JetstreamCompressor(self.dictionary)
        self.subscriptions: list[Subscription] = []
        self.requests: list[str] = []
        self.connects = 0
        # Close each connection abruptly (no close frame) after this many events.
        self.drop_after: int | None = None
        self.refuse_status: int | None = None
        self._server: Server | None = None
        self._connected = asyncio.Condition()

    @property
    def url(self) -> str:
        """The host's ws:// address."""
        assert self._server is not None
        host, port = next(iter(self._server.sockets)).getsockname()[:2]
        return f"ws://{host}:{port}"

    async def start(self) -> None:
        """Listen on a free loopback port."""
        self._server = await serve(self._session, "127.0.0.1", 0,
                                   process_request=self._check_request)

    async def stop(self) -> None:
        """Close every connection and stop listening."""
        for sub in self.subscriptions:
            sub.live.put_nowait(None)  # ends the session waiting for live events
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def store(self, lines: list[bytes]) -> None:
        """Keep events for cursor replay without sending them live."""
        self.events += [_stored(line) for line in lines]

    def publish(self, lines: list[bytes]) -> None:
        """Keep events and send them to every matching subscriber now."""
        for line in lines:
            event = _stored(line)
            self.events.append(event)
            for sub in self.subscriptions:
                if _wanted(sub, event):
                    sub.live.put_nowait(event)

    async def wait_connects(self, count: int) -> None:
        """Wait until `count` connections were opened in all."""
        async with self._connected:
            await self._connected.wait_for(lambda: self.connects >= count)

    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        self.requests.append(request.path)
        if urlsplit(request.path).path != "/subscribe":
            return connection.respond(HTTPStatus.NOT_FOUND, "no such endpoint\n")
        if self.refuse_status is not None:
            return connection.respond(HTTPStatus(self.refuse_status), "refused\n")
        return None

    async def _session(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        query = parse_qs(urlsplit(ws.request.path).query)
        cursor = query.get("cursor", [None])[0]
        sub = Subscription(frozenset(query.get("wantedCollections", [])),
                           query.get("compress") == ["true"],
                           int(cursor) if cursor is not None else None)
        self.subscriptions.append(sub)
        async with self._connected:
            self.connects += 1
            self._connected.notify_all()
        try:
            if sub.cursor is not None:
                # Jetstream replays from its store in time_us order, then goes live.
                replay = sorted((e for e in self.events if e.time_us >= sub.cursor),
                                key=lambda e: e.time_us)
                for event in replay:
                    if _wanted(sub, event) and not await self._send(ws, sub, event):
                        return
            while True:
                live = await sub.live.get()
                if live is None or not await self._send(ws, sub, live):
                    return
        except ConnectionClosed:
            pass  # the client went away
        finally:
            self.subscriptions.remove(sub)

    async def _send(self, ws: ServerConnection, sub: Subscription, event: StoredEvent) -> bool:
        if self.drop_after is not None and sub.sent >= self.drop_after:
            ws.transport.abort()  # a dropped connection: no close frame
            return False
        if sub.compress:
            await ws.send(self.compressor.compress(event.raw))
        else:
            await ws.send(event.raw.decode("utf-8"))
        sub.sent += 1
        return True


def _stored(line: bytes) -> StoredEvent:
    data = orjson.loads(line)
    commit = data.get("commit")
    collection = commit.get("collection") if isinstance(commit, dict) else None
    return StoredEvent(line, int(data["time_us"]), collection)


def _wanted(sub: Subscription, event: StoredEvent) -> bool:
    # Jetstream filters commits by collection; identity and account events always pass.
    return event.collection is None or not sub.collections or event.collection in sub.collections


@contextlib.asynccontextmanager
async def running_jetstream(dictionary: bytes | None = None) -> AsyncIterator[FakeJetstream]:
    """A started FakeJetstream, stopped afterwards."""
    fake = FakeJetstream(dictionary)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()
