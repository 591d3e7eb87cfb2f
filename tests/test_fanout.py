"""The fan-out's direct frame path: ordered delivery, bounded buffers, slow clients let go."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import uvicorn
from websockets.asyncio.client import ClientConnection, connect

from server.app import create_app
from server.ws_protocol import SEND_BUFFER, FrameProtocol
from tests.test_robustness import _stalled_socket
from tests.utils import (
    RunningServer,
    free_port,
    make_post,
    make_settings,
    recv,
    run_server,
    until,
    ws_client,
)

BIG = "x" * 20_000


def _protocols(server: RunningServer) -> list[FrameProtocol]:
    connections = server.server.server_state.connections
    return [c for c in connections if isinstance(c, FrameProtocol)]


def _holds(server: RunningServer, port: int) -> bool:
    return any(p.client is not None and p.client[1] == port and not p.disconnected
               for p in _protocols(server))


async def _approve_until_dropped(server: RunningServer,
                                 healthy: ClientConnection | None = None) -> int:
    """Trusted posts, one at a time, until the hub drops a client; how many it took."""
    wall = server.wall
    n = 0
    async with asyncio.timeout(60):
        while wall.public.dropped_total == 0:
            n += 1
            await wall.pipeline.ingest(make_post(n, text=BIG, handle="trusted"))
            if healthy is not None:
                assert (await recv(healthy))["seq"] == n
            else:
                await until(lambda n=n: wall.public.position >= n)
    return n


def _small_socket(port: int) -> socket.socket:
    """A connected socket with a small receive buffer, so that a slow reader is felt."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    return sock


async def test_stalled_socket_is_dropped_and_let_go(store_url: str) -> None:
    """A socket that never reads is dropped, its server end is reset, the healthy one is served."""
    settings = make_settings(store_url=store_url, trusted_authors=["trusted"],
                             client_queue_size=8)
    async with run_server(settings) as server:
        stalled = await _stalled_socket(server.port)
        port = stalled.getsockname()[1]
        try:
            async with ws_client(f"{server.ws_base}/ws", max_size=None) as healthy:
                await recv(healthy)
                await until(lambda: len(server.wall.public.clients) == 2)
                await _approve_until_dropped(server, healthy)
                # Reset at once (SO_LINGER 0): nothing waits in the kernel for a reader
                # that reads nothing.
                assert not _holds(server, port)
                await server.wall.pipeline.ingest(make_post(9999, handle="trusted"))
                assert (await recv(healthy))["post"]["id"] == "x:9999"
        finally:
            stalled.close()


async def test_slow_reader_is_reset_after_an_unbroken_prefix(store_url: str) -> None:
    """A client that falls behind is reset; what it received came in order, without gaps."""
    settings = make_settings(store_url=store_url, trusted_authors=["trusted"],
                             client_queue_size=8)
    async with run_server(settings) as server:
        async with ws_client(f"{server.ws_base}/ws", max_size=None, max_queue=1,
                             sock=_small_socket(server.port)) as slow:
            await recv(slow)
            await until(lambda: len(server.wall.public.clients) == 1)
            dropped_after = await _approve_until_dropped(server)
            seqs = []
            with contextlib.suppress(Exception):
                while True:
                    message = await recv(slow)
                    seqs.append(message["seq"])
            await asyncio.wait_for(slow.wait_closed(), 10)
        assert slow.close_code == 1006
        # What it received came in order, with no gap, and stopped before the drop.
        assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) < dropped_after


async def test_kernel_send_buffer_is_bounded(server: RunningServer) -> None:
    """Each screen's socket has a fixed send buffer, so a stalled one holds little kernel memory."""
    async with ws_client(f"{server.ws_base}/ws") as ws:
        await recv(ws)
        await until(lambda: bool(_protocols(server)))
        sock = _protocols(server)[0].transport.get_extra_info("socket")
        # Linux doubles the value it is given, for its bookkeeping.
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) <= 2 * SEND_BUFFER


@contextlib.asynccontextmanager
async def _plain_uvicorn(store_url: str) -> AsyncIterator[tuple[int, object]]:
    """hashwall under uvicorn's own websocket protocol, without the direct frame path."""
    settings = make_settings(store_url=store_url, trusted_authors=["trusted"],
                             client_queue_size=8)
    app = create_app(settings)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, ws="websockets-sansio",
                            ws_per_message_deflate=False, lifespan="on", log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        await until(lambda: server.started or task.done())
        yield port, app
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


async def test_plain_uvicorn_protocol_still_fans_out_and_drops(tmp_path: Path) -> None:
    """Without the frame path, posts still arrive in order and a stalled client is dropped."""
    async with _plain_uvicorn(f"sqlite:///{tmp_path / 'plain.sqlite3'}") as (port, app):
        wall = app.state.wall  # type: ignore[attr-defined]
        stalled = await _stalled_socket(port)
        try:
            async with ws_client(f"ws://127.0.0.1:{port}/ws", max_size=None) as healthy:
                await recv(healthy)
                await until(lambda: len(wall.public.clients) == 2)
                assert all(c.frames is None for c in wall.public.clients)
                n = 0
                async with asyncio.timeout(60):
                    while wall.public.dropped_total == 0:
                        n += 1
                        await wall.pipeline.ingest(make_post(n, text=BIG, handle="trusted"))
                        assert (await recv(healthy))["seq"] == n
                assert len(wall.public.clients) == 1
        finally:
            stalled.close()


async def test_idle_screens_hold_no_task_and_leave_the_hub_when_gone(server: RunningServer) -> None:
    """Once resumed, a screen's socket runs without a handler task; closing it frees it."""
    hub = server.wall.public
    tasks = server.server.server_state.tasks
    async with contextlib.AsyncExitStack() as stack:
        screens = [await stack.enter_async_context(ws_client(f"{server.ws_base}/ws"))
                   for _ in range(5)]
        for ws in screens:
            await recv(ws)
        await until(lambda: len(hub.clients) == 5 and not tasks)
        await server.wall.pipeline.ingest(make_post(1, handle="trusted"))
        for ws in screens:
            assert (await recv(ws))["post"]["id"] == "x:1"
        await screens[0].close()
        assert screens[0].close_code == 1000
        await until(lambda: len(hub.clients) == 4)
    await until(lambda: not hub.clients)


async def test_screen_messages_are_ignored_and_pings_answered(server: RunningServer) -> None:
    """What a screen sends on /ws is discarded; it keeps receiving and its pings get pongs."""
    async with ws_client(f"{server.ws_base}/ws") as ws:
        await recv(ws)
        for n in range(50):
            await ws.send(f"hello {n}")
        await asyncio.wait_for(await ws.ping(), 10)
        await server.wall.pipeline.ingest(make_post(1, handle="trusted"))
        assert (await recv(ws))["post"]["id"] == "x:1"


async def test_server_stop_closes_detached_screens(store_url: str) -> None:
    """Stopping the server closes every screen with 1012 (restart) and does not hang."""
    settings = make_settings(store_url=store_url)
    async with run_server(settings) as server:
        # Left open on purpose: the server, not the test, closes it.
        ws = await connect(f"{server.ws_base}/ws", compression=None, open_timeout=10)
        await recv(ws)
        await until(lambda: len(server.wall.public.clients) == 1)
    await asyncio.wait_for(ws.wait_closed(), 10)
    assert ws.close_code == 1012
