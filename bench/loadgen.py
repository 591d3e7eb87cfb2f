"""The load generator: thousands of raw asyncio websocket clients that count what they receive.

It runs as its own process and obeys JSON commands, one per line on stdin, answering each
with one JSON line on stdout:

- {"op": "connect", "port": P, "path": "/ws", "n": N, "greeting": G}: open N more sockets
  (with G, a socket counts once its first message arrived); failures are retried twice
- {"op": "wait", "messages": M, "timeout_s": T}: answer once M text messages arrived in all
- {"op": "stats"}: open sockets, messages received, sockets closed by the server
- {"op": "close"}: close every socket
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from typing import Any

from bench import frames
from bench.procstat import raise_nofile

HANDSHAKE_TIMEOUT = 30.0
CONCURRENCY = 64


class Counters:
    """What every socket of this process received, in total."""

    def __init__(self) -> None:
        self.open = 0
        self.messages = 0
        self.closed = 0
        self.changed = asyncio.Event()
        self.sockets: set[Client] = set()


class Client(asyncio.Protocol):
    """One websocket that answers pings and close frames and counts text messages."""

    def __init__(self, counters: Counters, accept: str) -> None:
        self.counters = counters
        self.accept = accept
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        loop = asyncio.get_running_loop()
        self.upgraded: asyncio.Future[bool] = loop.create_future()
        self.greeted: asyncio.Future[bool] = loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.upgraded.done():
            self.upgraded.set_result(False)
        if not self.greeted.done():
            self.greeted.set_result(False)
        if self in self.counters.sockets:
            self.counters.sockets.discard(self)
            self.counters.open -= 1
            self.counters.closed += 1
            self.counters.changed.set()

    def data_received(self, data: bytes) -> None:
        data = self.buffer + data if self.buffer else data
        if not self.upgraded.done():
            head, sep, rest = data.partition(b"\r\n\r\n")
            if not sep:
                self.buffer = data
                return
            ok = head.startswith(b"HTTP/1.1 101") and self.accept.encode() in head
            self.upgraded.set_result(ok)
            data = rest
        received, self.buffer = frames.split_frames(data)
        texts = 0
        for opcode, fin, payload in received:
            if opcode in (frames.TEXT, 0) and fin:
                texts += 1
            elif opcode == frames.PING:
                self.write(frames.frame(payload, frames.PONG, masked=True))
            elif opcode == frames.CLOSE:
                self.write(frames.frame(payload[:2], frames.CLOSE, masked=True))
                if self.transport is not None:
                    self.transport.close()
        if texts:
            if not self.greeted.done():
                self.greeted.set_result(True)
            self.counters.messages += texts
            self.counters.changed.set()

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)


async def _open_one(counters: Counters, host: str, port: int, path: str,
                    greeting: bool) -> bool:
    loop = asyncio.get_running_loop()
    request, accept = frames.upgrade_request(host, port, path)
    try:
        transport, client = await asyncio.wait_for(
            loop.create_connection(lambda: Client(counters, accept), host, port),
            HANDSHAKE_TIMEOUT,
        )
    except (OSError, TimeoutError):
        return False
    transport.write(request)
    try:
        ok = await asyncio.wait_for(asyncio.shield(client.upgraded), HANDSHAKE_TIMEOUT)
        if ok and greeting:
            ok = await asyncio.wait_for(asyncio.shield(client.greeted), HANDSHAKE_TIMEOUT)
    except TimeoutError:
        ok = False
    if not ok:
        transport.abort()
        return False
    counters.sockets.add(client)
    counters.open += 1
    return True


async def connect(counters: Counters, port: int, path: str, n: int, greeting: bool,
                  host: str = "127.0.0.1") -> dict[str, Any]:
    """Open `n` more sockets, a few at a time so as not to overflow the listen backlog.

    Sockets that fail are tried again, twice, as a phone reconnects; the answer says how
    many failed at first and how many failed for good.
    """
    started = time.monotonic()
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one() -> bool:
        async with gate:
            return await _open_one(counters, host, port, path, greeting)

    missing, first_failures = n, None
    for attempt in range(3):
        if attempt:
            await asyncio.sleep(0.5)
        results = await asyncio.gather(*(one() for _ in range(missing)))
        missing = results.count(False)
        if first_failures is None:
            first_failures = missing
        if not missing:
            break
    return {"open": counters.open, "failed": missing, "retried": first_failures,
            "seconds": round(time.monotonic() - started, 3)}


async def wait(counters: Counters, messages: int, timeout: float) -> dict[str, Any]:
    """Wait until `messages` text messages arrived in total, or `timeout`."""
    deadline = time.monotonic() + timeout
    while counters.messages < messages:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        counters.changed.clear()
        try:
            await asyncio.wait_for(counters.changed.wait(), left)
        except TimeoutError:
            break
    return {"ok": counters.messages >= messages, **stats(counters)}


def stats(counters: Counters) -> dict[str, Any]:
    """The totals so far."""
    return {"open": counters.open, "messages": counters.messages, "closed": counters.closed}


async def close(counters: Counters) -> dict[str, Any]:
    """Close every socket at once (the server sees resets, which it must survive)."""
    for client in list(counters.sockets):
        if client.transport is not None:
            client.transport.abort()
    counters.sockets.clear()
    counters.open = 0
    await asyncio.sleep(0)
    return stats(counters)


async def serve_commands() -> None:
    """Read commands from stdin until it closes."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    counters = Counters()
    while line := await reader.readline():
        command = json.loads(line)
        op = command["op"]
        if op == "connect":
            answer = await connect(counters, command["port"], command.get("path", "/ws"),
                                   command["n"], command.get("greeting", False))
        elif op == "wait":
            answer = await wait(counters, command["messages"], command.get("timeout_s", 60.0))
        elif op == "stats":
            answer = stats(counters)
        elif op == "close":
            answer = await close(counters)
        else:
            answer = {"error": f"expected connect, wait, stats or close, got {op!r}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


def main() -> None:
    raise_nofile()
    # Below the tracers and the driver on the load core: the load must not delay the probes.
    os.nice(5)
    asyncio.run(serve_commands())


if __name__ == "__main__":
    main()
