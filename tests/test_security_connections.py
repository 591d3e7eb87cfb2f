"""Abusive connections against a real server: ping floods, huge frames, silent sockets."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time
from pathlib import Path

import httpx
import pytest

from server.limits import RESERVED_FILES, open_file_limit
from tests.utils import TIMEOUT, make_settings, recv, run_server, ws_client

HANDSHAKE = (b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def _frame(opcode: int, payload: bytes, declared: int | None = None) -> bytes:
    """A masked client frame; `declared` announces a length other than the payload's."""
    length = len(payload) if declared is None else declared
    mask = b"\x00\x00\x00\x00"
    if length < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
    elif length < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
    return head + mask + payload


async def _upgraded(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.wait_for(asyncio.open_connection(
        "127.0.0.1", port, limit=2**16), TIMEOUT)
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    writer.write(HANDSHAKE)
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
    assert head.startswith(b"HTTP/1.1 101"), head
    return reader, writer


async def test_ping_flood_without_reading_pongs_is_reset(store_url: str) -> None:
    """Five clients sending 64 MB of pings each without reading a pong are reset, and the
    server's memory stays within a few MB."""
    async with run_server(make_settings(store_url=store_url)) as running:
        before = _rss_mb()
        ping = _frame(0x9, b"p" * 125) * 512
        clients = [await _upgraded(running.port) for _ in range(5)]
        reset = 0
        for _, writer in clients:
            with contextlib.suppress(ConnectionError, TimeoutError):
                for _ in range(1000):  # 1000 x 512 pings of 125 bytes: 65 MB of pongs
                    writer.write(ping)
                    await asyncio.wait_for(writer.drain(), 5)
                continue
            reset += 1
        grown = _rss_mb() - before
        for _, writer in clients:
            writer.close()
        print(f"\nmemory growth, 5 ping-flooding clients: {grown:.1f} MB")
        assert reset == 5 and grown < 40


async def test_huge_and_partial_frames_are_refused(store_url: str) -> None:
    """20 clients each announcing a 15 MiB frame are closed before sending it all."""
    async with run_server(make_settings(store_url=store_url)) as running:
        before = _rss_mb()
        clients = [await _upgraded(running.port) for _ in range(20)]
        for _, writer in clients:
            writer.write(_frame(0x1, b"a" * 100_000, declared=15 * 1024 * 1024))
            with contextlib.suppress(ConnectionError):
                await writer.drain()
        ended = 0
        for reader, writer in clients:
            # Closed with 1009 (or reset, as the kernel does when unread data remains).
            with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
                async with asyncio.timeout(TIMEOUT):
                    while await reader.read(65536):
                        pass
            ended += 1
            writer.close()
        grown = _rss_mb() - before
        print(f"\nmemory growth, 20 clients of 15 MiB frames: {grown:.1f} MB")
        assert ended == 20 and grown < 20


async def test_silent_connections_are_closed_and_pages_keep_answering(store_url: str) -> None:
    """1,100 connections that send nothing neither starve /wall nor stay open past the
    header timeout; past the connection limit a request gets 503 at once."""
    settings = make_settings(store_url=store_url, header_timeout=2.0, max_connections=1200)
    async with run_server(settings) as running, httpx.AsyncClient(
            base_url=running.base, timeout=TIMEOUT) as http:
        silent = []
        for _ in range(1100):
            sock = socket.socket()
            sock.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                sock.connect(("127.0.0.1", running.port))
            silent.append(sock)
        try:
            started = time.monotonic()
            for _ in range(10):
                assert (await http.get("/wall")).status_code == 200
            latency = (time.monotonic() - started) / 10
            print(f"\n/wall with 1,100 silent connections: {latency * 1000:.0f} ms")
            # The header timeout closes every silent connection.
            async with asyncio.timeout(TIMEOUT + 5):
                while len(running.server.server_state.connections) > 1:
                    await asyncio.sleep(0.1)
        finally:
            for sock in silent:
                sock.close()
    small = make_settings(store_url=store_url, max_connections=10)
    async with run_server(small) as running:
        held = [await asyncio.open_connection("127.0.0.1", running.port) for _ in range(12)]
        try:
            async with httpx.AsyncClient(base_url=running.base, timeout=TIMEOUT) as http:
                started = time.monotonic()
                response = await http.get("/wall")
                refused_in = time.monotonic() - started
            assert response.status_code == 503
            print(f"\n/wall refused with the connection limit reached in "
                  f"{refused_in * 1000:.0f} ms")
        finally:
            for _, writer in held:
                writer.close()


async def test_the_header_timeout_never_closes_an_open_screen(store_url: str) -> None:
    """A screen's websocket outlives the header timeout many times over: the timer stops
    once the upgrade request has arrived (heartbeats keep coming on the same socket)."""
    settings = make_settings(store_url=store_url, header_timeout=0.3, heartbeat_seconds=0.5)
    async with run_server(settings) as running, ws_client(f"{running.ws_base}/ws") as screen:
        assert (await recv(screen))["type"] == "snapshot"
        beats = 0
        while beats < 4:  # two seconds: more than six header timeouts
            message = await recv(screen)
            beats += message["type"] == "heartbeat"


async def test_thousands_of_screens_are_served_by_default(store_url: str) -> None:
    """With the default connection limit (what the open-file limit allows), 4,500 open
    screens (a large room's phones) leave the wall answering, not refused with 503."""
    files = open_file_limit()
    # Both ends of every screen live in this process.
    if files is None or files < 2 * 4500 + 2 * RESERVED_FILES:
        pytest.skip(f"the open-file limit ({files}) is too low for 4,500 screens in one process")
    async with run_server(make_settings(store_url=store_url)) as running:
        screens: list[asyncio.StreamWriter] = []
        try:
            for start in range(0, 4500, 500):
                opened = await asyncio.gather(*(_upgraded(running.port) for _ in range(500)))
                screens += [writer for _, writer in opened]
                assert len(screens) == start + 500
            async with httpx.AsyncClient(base_url=running.base, timeout=TIMEOUT) as http:
                assert (await http.get("/wall")).status_code == 200
        finally:
            for writer in screens:
                writer.close()
