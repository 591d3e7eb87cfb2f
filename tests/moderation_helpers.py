"""Helpers for the moderation tests: a signed-in moderator socket, and waiting for a message."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from websockets.asyncio.client import ClientConnection

from tests.utils import TIMEOUT, RunningServer, moderator, recv, session_cookie, ws_client

Message = dict[str, Any]


@contextlib.asynccontextmanager
async def console(running: RunningServer, name: str) -> AsyncIterator[tuple[ClientConnection,
                                                                           Message]]:
    """A moderator's socket, signed in as `name`, and its first message (queue.snapshot)."""
    async with moderator(running, name) as http:
        headers = {"Cookie": session_cookie(http)}
        async with ws_client(f"{running.ws_base}/ws/moderate", additional_headers=headers) as ws:
            first = await recv(ws)
            assert first["type"] == "queue.snapshot"
            yield ws, first


async def send(ws: ClientConnection, **message: Any) -> None:
    """Send one JSON message."""
    await ws.send(json.dumps(message))


async def wait_for(ws: ClientConnection, match: Callable[[Message], bool],
                   timeout: float = TIMEOUT) -> tuple[Message, list[Message]]:
    """The first message that matches, and every message received before it."""
    before = []
    while True:
        message = await recv(ws, timeout)
        if match(message):
            return message, before
        before.append(message)


def reply_to(ref: Any) -> Callable[[Message], bool]:
    """Matches the ack or error that answers message `ref`."""
    return lambda m: m["type"] in ("ack", "error") and m.get("ref") == ref


def of_type(type_: str, **fields: Any) -> Callable[[Message], bool]:
    """Matches a message of a type whose fields have these values."""
    return lambda m: m["type"] == type_ and all(m.get(k) == v for k, v in fields.items())
