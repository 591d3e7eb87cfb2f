"""What one request or connection may make the server hold: body size, and uvicorn's limits.

`BodyLimit` refuses a body larger than `HASHWALL_MAX_BODY_BYTES` with 413: at once when
`Content-Length` announces it, and while reading otherwise (chunked bodies), so a large
upload is never held in memory. `uvicorn_options` turns the settings into uvicorn's own
limits (connections, keep-alive, websocket message and queue sizes, trusted proxies).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.http_protocol import header_timeout_protocol
from server.settings import Settings, SettingsError

logger = logging.getLogger(__name__)

# Open files kept for what is not a client connection: the store, the files served, the
# photo workers' pipes, logs.
RESERVED_FILES = 256
# The most connections the default allows one process, whatever the open-file limit: at
# about 10 KiB each, 50,000 idle screens hold 500 MiB.
MOST_CONNECTIONS = 50_000
# The default where the system has no open-file limit to read.
DEFAULT_CONNECTIONS = 4000
# A websocket message from a client is a command of a few hundred bytes at most.
WS_MAX_MESSAGE = 64 * 1024
# Messages a client may have sent that the app has not read yet.
WS_MAX_QUEUE = 16


def too_large(limit: int) -> str:
    """The refusal of a body over the limit."""
    return f"expected a request body of at most {limit} bytes"


class BodyLimit:
    """Refuses request bodies over `limit` bytes with 413, before or while reading them."""

    def __init__(self, app: ASGIApp, limit: int, paths: dict[str, int] | None = None) -> None:
        self.app = app
        self.limit = limit
        # Endpoints with a limit of their own (phones' photos), checked here all the same.
        self.paths = paths or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.paths.get(scope["path"], self.limit)
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit() or int(value) > limit:
                    await _refuse(send, 413 if value.isdigit() else 400,
                                  too_large(limit) if value.isdigit()
                                  else f"expected a number in Content-Length, got {value!r}")
                    return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise HTTPException(413, too_large(limit))
            return message

        await self.app(scope, counted, send)


async def _refuse(send: Send, status: int, error: str, retry_after: int | None = None) -> None:
    body = json.dumps({"error": error}).encode()
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode()), (b"connection", b"close")]
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class StoreDeadline:
    """Answers 503 with Retry-After when an API request waits for the store past `seconds`
    (a hung Redis), instead of letting every visitor hang."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        # Exports may take long; sign-in's argon2 checks are slow on purpose; a phone's photo
        # arrives over venue wifi and is decoded by a worker, bounded by limits of its own.
        if scope["type"] != "http" or not path.startswith("/api/") or path.startswith(
                ("/api/export", "/api/login", "/api/submissions")):
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            async with asyncio.timeout(self.seconds):
                await self.app(scope, receive, watched)
        except TimeoutError:
            if started:
                raise
            logger.warning("%s %s: the store did not answer within %gs", scope.get("method"),
                           path, self.seconds)
            await _refuse(send, 503, f"the store did not answer within {self.seconds:g} s; "
                                     "try again in a moment", retry_after=1)


def open_file_limit() -> int | None:
    """This process's open-file limit, its soft limit first raised to the hard one (a
    screen is one open socket); None where the system has no such limit to read."""
    try:
        import resource
    except ImportError:  # not a Unix
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return None if soft == resource.RLIM_INFINITY else soft


def connection_limit(settings: Settings) -> int:
    """The connections one web process serves at once: `HASHWALL_MAX_CONNECTIONS`, or by
    default what the open-file limit leaves after `RESERVED_FILES`, at most
    `MOST_CONNECTIONS`. A setting above what the limit allows is a `SettingsError`: past the
    limit connections would fail with no answer at all, instead of a 503."""
    files = open_file_limit()
    room = None if files is None else files - RESERVED_FILES
    wanted = settings.max_connections
    if wanted is None:
        return DEFAULT_CONNECTIONS if room is None else max(10, min(room, MOST_CONNECTIONS))
    if room is not None and wanted > room:
        raise SettingsError(
            f"HASHWALL_MAX_CONNECTIONS: expected at most {max(room, 0)} (the open-file limit, "
            f"{files}, less {RESERVED_FILES} for the store, files and workers), got {wanted}; "
            "raise the limit (ulimit -n, LimitNOFILE= in a systemd unit) or lower the setting")
    return wanted


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's limits from the settings, for `uvicorn.Config`."""
    return {
        "proxy_headers": bool(settings.forwarded_allow_ips),
        "forwarded_allow_ips": ",".join(settings.forwarded_allow_ips) or "",
        "limit_concurrency": connection_limit(settings),
        "timeout_keep_alive": 5,
        "ws_max_size": WS_MAX_MESSAGE,
        "ws_max_queue": WS_MAX_QUEUE,
        "h11_max_incomplete_event_size": 16 * 1024,
        "http": header_timeout_protocol(settings.header_timeout),
    }
