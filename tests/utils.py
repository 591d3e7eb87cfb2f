"""Real servers and real clients for the tests: uvicorn on a free port, websockets, httpx."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from websockets.asyncio.client import ClientConnection, connect

from moderation.post import Author, Post
from server.app import create_app
from server.limits import uvicorn_options
from server.settings import Settings, load_settings
from server.state import Wall
from server.ws_protocol import FrameProtocol

PASSWORD = "correct horse battery staple"
TIMEOUT = 10.0


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_settings(**overrides: Any) -> Settings:
    """Test settings: a given store, no sources unless asked."""
    values: dict[str, Any] = {"moderator_password": PASSWORD, "secret_key": "test-secret"}
    values.update(overrides)
    return load_settings(**values)


def make_post(n: int, text: str | None = None, handle: str = "alice", **fields: Any) -> Post:
    """A plain post with a predictable id."""
    return Post(
        id=f"x:{n}",
        network="x",
        author=Author(id=f"u{handle}", handle=handle, name=handle.title()),
        text=text if text is not None else f"post number {n} #uemedef14",
        created_at="2014-08-27T09:00:00.000Z",
        **fields,
    )


@dataclass
class RunningServer:
    """A uvicorn server started by a test, and what it serves."""

    server: uvicorn.Server
    task: asyncio.Task[None]
    port: int
    app: Any

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_base(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def wall(self) -> Wall:
        wall: Wall = self.app.state.wall
        return wall


async def until(predicate: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    """Wait for a condition that no event announces; fail after `timeout`."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def start_server(settings: Settings, port: int | None = None, **kwargs: Any) -> RunningServer:
    """Start a real uvicorn server in this event loop and wait until it listens."""
    options = {**uvicorn_options(settings), **kwargs.pop("uvicorn", {})}
    app = create_app(settings, **kwargs)
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, ws=FrameProtocol,
                            ws_per_message_deflate=False, lifespan="on", log_level="warning",
                            **options)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        await until(lambda: server.started or task.done())
    except TimeoutError:
        task.cancel()
        raise
    if task.done():
        task.result()
        raise RuntimeError("the server stopped during start-up")
    return RunningServer(server, task, port, app)


async def stop_server(running: RunningServer) -> None:
    """Stop a server started by `start_server`, waiting for its lifespan to close."""
    running.server.should_exit = True
    await asyncio.wait_for(running.task, TIMEOUT)


@contextlib.asynccontextmanager
async def run_server(settings: Settings, **kwargs: Any) -> AsyncIterator[RunningServer]:
    """A real server for the duration of a `with` block."""
    running = await start_server(settings, **kwargs)
    try:
        yield running
    finally:
        await stop_server(running)


async def recv(ws: ClientConnection, timeout: float = TIMEOUT) -> dict[str, Any]:
    """The next JSON message of a websocket, within `timeout`."""
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout))
    return message


async def recv_until(
    ws: ClientConnection, type_: str, timeout: float = TIMEOUT
) -> list[dict[str, Any]]:
    """Every message up to and including the first one of `type_`."""
    seen = []
    async with asyncio.timeout(timeout):
        while True:
            message = await recv(ws, timeout)
            seen.append(message)
            if message["type"] == type_:
                return seen


@contextlib.asynccontextmanager
async def moderator(running: RunningServer, name: str = "ana") -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client signed in as a moderator."""
    async with httpx.AsyncClient(base_url=running.base, timeout=TIMEOUT) as client:
        response = await client.post("/api/login", json={"name": name, "password": PASSWORD})
        assert response.status_code == 200, response.text
        client.headers["X-CSRF-Token"] = response.json()["csrf"]
        yield client


def session_cookie(client: httpx.AsyncClient) -> str:
    """The session cookie header of a signed-in client, for its websocket."""
    return "; ".join(f"{k}={v}" for k, v in client.cookies.items())


@contextlib.asynccontextmanager
async def ws_client(url: str, **kwargs: Any) -> AsyncIterator[ClientConnection]:
    """A real websocket client without compression."""
    async with connect(url, compression=None, open_timeout=TIMEOUT, **kwargs) as ws:
        yield ws
