"""The websockets: /ws for every screen, /ws/moderate for moderators."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from moderation.exceptions import ModerationError
from moderation.store import StoreUnavailable
from server import commands, inputs, protocol
from server.auth import moderator_of, origin_allowed
from server.console_state import console_snapshot, presence
from server.fanout import Client, Hub
from server.protocol import encode
from server.snapshots import Built
from server.state import Wall
from server.ws_protocol import FRAMES

logger = logging.getLogger(__name__)

# A client further behind than this starts again from a snapshot.
MAX_BACKLOG = 2000
CLOSE_UNAUTHORISED = 4401
CLOSE_UNSUPPORTED_DATA = 1003
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_FORBIDDEN_ORIGIN = 4403

Snapshot = Callable[[], Awaitable[Built]]
OnMessage = Callable[[Client, Any], Awaitable[None]]


def _store_timeout(ws: WebSocket) -> float:
    wall: Wall = ws.app.state.wall
    return wall.settings.store_timeout


def _since(ws: WebSocket) -> int | None:
    value = ws.query_params.get("since")
    if value is None or value == "":
        return None
    # ASCII digits that fit the event log's 64-bit sequence; anything else is refused.
    if not value.isascii() or not value.isdigit() or len(value) > 20 or int(value) >= 2**63:
        return -1
    return int(value)


def _epoch(ws: WebSocket) -> str | None:
    return ws.query_params.get("epoch") or None


async def _resume(client: Client, hub: Hub, since: int | None, snapshot: Snapshot,
                  epoch: str | None = None) -> None:
    """Bring a new client up to date: what it missed since `since` (of `epoch`, when the
    client says), or a fresh snapshot."""
    latest = await hub.store.last_seq(hub.channel)
    if since is not None and since < 0:
        await client.write(0, encode(protocol.error("expected since to be a whole number",
                                                    code=protocol.ErrorCode.BAD_SINCE)))
    # A `since` of another epoch numbers another log (a replaced store): it means nothing here.
    elsewhere = epoch is not None and epoch != await hub.store.epoch()
    if (since is None or since < 0 or since > latest or latest - since > MAX_BACKLOG
            or elsewhere):
        built = await snapshot()
        resumed_elsewhere = since is not None and (since != built.seq or elsewhere)
        await client.write(0, built.reset() if resumed_elsewhere else built.text)
        client.last_seq = built.seq
        return
    client.last_seq = since
    after = since
    while events := await hub.store.replay(hub.channel, after):
        for event in events:
            await client.write(event.seq, encode(event.message()))
        after = events[-1].seq


async def _serve(ws: WebSocket, hub: Hub, since: int | None, snapshot: Snapshot,
                 on_message: OnMessage | None = None) -> None:
    epoch = _epoch(ws)
    tasks: list[asyncio.Task[None]] = []

    async def close(code: int, reason: str) -> None:
        for task in tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            await ws.close(code, reason)

    peer = f"{ws.client.host}:{ws.client.port}" if ws.client else "?"
    frames = ws.scope.get("extensions", {}).get(FRAMES)
    client = hub.client(ws.send_text, close, name=peer, frames=frames)
    detached = False
    try:
        try:
            async with asyncio.timeout(_store_timeout(ws)):
                await _resume(client, hub, since, snapshot, epoch)
        except (StoreUnavailable, TimeoutError) as failure:
            # One line, no traceback: the screen tries again, as 1013 asks it to.
            logger.warning("websocket %s closed with 1013: the store is unavailable (%s)",
                           peer, failure or "no answer in time")
            await close(CLOSE_TRY_AGAIN_LATER, "store unavailable, try again later")
            return
        if frames is not None and on_message is None:
            # A screen only listens: the hub keeps its socket, without a task or a handler.
            hub.detach(client)
            detached = True
            return
        client.go_live()
        tasks.append(asyncio.create_task(_read(ws, client, on_message)))
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                exc = task.exception()
                if not isinstance(exc, (WebSocketDisconnect, RuntimeError, OSError)):
                    logger.error("websocket %s failed", peer, exc_info=exc)
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass
    finally:
        if not detached:
            hub.remove(client)
        for task in tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*tasks, return_exceptions=True)


async def _read(ws: WebSocket, client: Client, on_message: OnMessage | None) -> None:
    while True:
        received = await ws.receive()
        if received["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(received.get("code", 1000), received.get("reason"))
        text = received.get("text")
        if text is None:
            # RFC 6455 §7.4.1: 1003, an endpoint that received a type of data it cannot accept.
            await ws.close(CLOSE_UNSUPPORTED_DATA, "expected text frames of JSON")
            return
        if on_message is None:
            continue
        try:
            message = inputs.parse(text)
        except ValueError as exc:
            # The ref goes back escaped, so the console recognises and forgets the message
            # rather than sending it again at every reconnection.
            ref = _raw_ref(text)
            client.reply(inputs.ascii_json(protocol.error(str(exc), ref,
                                                         code=protocol.ErrorCode.BAD_REQUEST)))
            continue
        await on_message(client, message)


def _raw_ref(text: str) -> Any:
    """The `ref` of a message refused for its content, if it has one."""
    try:
        message = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return message.get("ref") if isinstance(message, dict) else None


async def public_socket(ws: WebSocket) -> None:
    """/ws: approved posts and retractions, resumable with ?since=."""
    wall: Wall = ws.app.state.wall
    await ws.accept()

    await _serve(ws, wall.public, _since(ws), wall.snapshots.get)


async def moderator_socket(ws: WebSocket) -> None:
    """/ws/moderate: the live queue and decisions, for signed-in moderators."""
    wall: Wall = ws.app.state.wall
    if not origin_allowed(ws):
        # Refused before accepting: the browser sees a failed handshake (HTTP 403).
        logger.warning("refused /ws/moderate from origin %r", ws.headers.get("origin"))
        await ws.close(CLOSE_FORBIDDEN_ORIGIN)
        return
    moderator = moderator_of(ws)
    await ws.accept()
    if moderator is None:
        refusal = protocol.error("sign in as a moderator first",
                                 code=protocol.ErrorCode.UNAUTHORISED)
        await ws.send_text(encode(refusal))
        await ws.close(CLOSE_UNAUTHORISED, "sign in first")
        return

    async def snapshot() -> Built:
        epoch = await wall.store.epoch()
        seq, message = await console_snapshot(wall, moderator)
        message = {**message, "epoch": epoch}
        return Built(seq, message, encode(message), epoch)

    async def on_message(client: Client, message: Any) -> None:
        ref = message.get("ref") if isinstance(message, dict) else None
        if not isinstance(message, dict):
            reply = protocol.error(f"expected a JSON object, got {type(message).__name__}")
        else:
            try:
                result = await commands.run(wall, moderator, message)
                reply = protocol.ack(ref, **result)
            except (ModerationError, StoreUnavailable) as exc:
                # The socket stays open while the store is away; the console sends again.
                reply = protocol.error(str(exc), ref, code=protocol.error_code(exc))
        client.reply(encode(reply))

    present = presence(ws.app)
    present[moderator] += 1
    try:
        await _serve(ws, wall.moderation, _since(ws), snapshot, on_message)
    finally:
        present[moderator] -= 1
        if present[moderator] <= 0:
            del present[moderator]
            # The last console of this moderator left: its batch goes back to the pool.
            try:
                await wall.store.release(moderator)
            except Exception:
                logger.exception("could not release the batch of %s", moderator)
