"""A fake Mastodon server that the real hashwall client talks to over REST, SSE and the
websocket streaming API.

It answers like Mastodon 4.x: `GET /api/v2/instance` with `configuration.urls.streaming`,
`GET /api/v1/timelines/tag/:hashtag` with `any[]`, `limit` (at most 40), `max_id` /
`since_id` / `min_id` paging and a `Link` header, `GET /api/v1/apps/verify_credentials`,
the JSON `{"error": ...}` bodies of its errors, and its streaming server: a websocket on
`/api/v1/streaming` taking `{"type":"subscribe","stream":"hashtag","tag":...}` messages and
sending `{"stream":["hashtag",tag],"event":...,"payload":"<JSON as a string>"}` frames, and
`/api/v1/streaming/hashtag?tag=` as server-sent events opening with the `:)` preamble and
kept alive with `:thump` comments. The token may come as `Authorization: Bearer`, as the
`access_token` query parameter or (websocket) as `Sec-WebSocket-Protocol`.

Tests script the rest: a server that lets only signed-in users read hashtags, a server
without websocket or SSE streaming, scripted 401/403/429/5xx answers, dropped connections,
new statuses, edits (`status.update`) and deletions.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

from tests.fake_mastodon.recordings import tagged

TOKEN = "read-only-test-token"
MAX_LIMIT = 40
DEFAULT_LIMIT = 20
# Mastodon's own error bodies.
INVALID_TOKEN = {"error": "The access token is invalid"}
SIGNED_IN_ONLY = {"error": "This method requires an authenticated user"}
RATE_LIMITED = {"error": "Too many requests"}


@dataclass
class LoggedRequest:
    """One request the fake server received."""

    method: str
    path: str
    query: dict[str, list[str]]
    token: str | None


@dataclass
class _Stored:
    local_id: str
    status: dict[str, Any]
    tags: frozenset[str]
    deleted: bool = False


@dataclass
class _Subscriber:
    tags: set[str]
    send: Callable[[str, str, Any], Any]  # (tag, event, payload)
    close: Callable[[], Any]


@dataclass
class Failure:
    """A scripted answer to the next request whose path starts with `prefix`."""

    prefix: str
    status: int
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


class FakeMastodonServer:
    """A Mastodon server on a free loopback port; `statuses` posted to it are what it serves."""

    def __init__(self, *, token: str | None = TOKEN, signed_in_only: bool = False,
                 websocket: bool = True, sse: bool = True, heartbeat: float = 15.0,
                 domain: str | None = None) -> None:
        self.token = token
        self.signed_in_only = signed_in_only
        self.websocket = websocket
        self.sse = sse
        self.heartbeat = heartbeat
        self.domain = domain
        self.streaming_url: str | None = None  # None: this server's own URL
        self.statuses: list[_Stored] = []
        self.requests: list[LoggedRequest] = []
        self.failures: deque[Failure] = deque()
        self._ids = itertools.count(113_000_000_000_000_001)
        self._subscribers: list[_Subscriber] = []
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- lifecycle --------------------------------------------------------------------

    async def start(self) -> str:
        """Listen on a free port; return the base URL."""
        app = web.Application(middlewares=[self._log])
        app.router.add_get("/api/v2/instance", self._instance)
        app.router.add_get("/api/v1/apps/verify_credentials", self._verify)
        app.router.add_get("/api/v1/timelines/tag/{hashtag}", self._tag_timeline)
        app.router.add_get("/api/v1/streaming", self._websocket)
        app.router.add_get("/api/v1/streaming/hashtag", self._sse)
        app.router.add_get("/api/v1/streaming/health", self._health)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        if self.domain is None:
            self.domain = f"127.0.0.1:{self.port}"
        return self.base

    async def stop(self) -> None:
        """Close every connection and stop listening."""
        self.drop_streams()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeMastodonServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    # -- scripting --------------------------------------------------------------------

    def post(self, status: dict[str, Any], tag: str | None = None) -> str:
        """Publish a recorded status (with `tag` added, see `recordings.tagged`) under a new
        local id, sending `update` to the streams of its hashtags; return the local id."""
        body = tagged(status, tag, self.base) if tag else copy.deepcopy(status)
        local_id = str(next(self._ids))
        body["id"] = local_id
        target = body["reblog"] if isinstance(body.get("reblog"), dict) else body
        tags = frozenset(t["name"].casefold() for t in target.get("tags") or ())
        self.statuses.append(_Stored(local_id, body, tags))
        self._publish(tags, "update", json.dumps(body))
        return local_id

    def edit(self, local_id: str, content: str, edited_at: str | None = None) -> None:
        """Edit a status: new content and `edited_at`, sent as `status.update`."""
        stored = self._find(local_id)
        stored.status["content"] = content
        stored.status["edited_at"] = edited_at or _now()
        self._publish(stored.tags, "status.update", json.dumps(stored.status))

    def delete(self, local_id: str) -> None:
        """Delete a status: gone from the timelines, `delete` sent with its id."""
        stored = self._find(local_id)
        stored.deleted = True
        self._publish(stored.tags, "delete", local_id)

    def fail_next(self, prefix: str, status: int, body: dict[str, Any] | None = None,
                  headers: dict[str, str] | None = None, times: int = 1) -> None:
        """Answer the next `times` requests under `prefix` with an error."""
        for _ in range(times):
            self.failures.append(Failure(prefix, status, body, dict(headers or {})))

    def drop_streams(self) -> None:
        """Cut every open streaming connection."""
        for subscriber in list(self._subscribers):
            subscriber.close()
        self._subscribers.clear()

    @property
    def open_streams(self) -> int:
        return len(self._subscribers)

    def streams_for(self, tag: str) -> int:
        """Open streaming connections subscribed to `tag`."""
        return sum(tag.casefold() in s.tags for s in self._subscribers)

    def logged(self, path_prefix: str) -> list[LoggedRequest]:
        return [r for r in self.requests if r.path.startswith(path_prefix)]

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until `predicate()` holds (checked whenever a request arrives)."""

        async def until() -> None:
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(until(), timeout)

    # -- REST ---------------------------------------------------------------------------

    @web.middleware
    async def _log(self, request: web.Request, handler: Any) -> web.StreamResponse:
        query: dict[str, list[str]] = {}
        for key, value in request.query.items():
            query.setdefault(key, []).append(value)
        self.requests.append(LoggedRequest(request.method, request.path, query,
                                           _token(request)))
        self._changed.set()
        for failure in list(self.failures):
            if request.path.startswith(failure.prefix):
                self.failures.remove(failure)
                return web.json_response(failure.body or {"error": f"HTTP {failure.status}"},
                                         status=failure.status, headers=failure.headers)
        response: web.StreamResponse = await handler(request)
        return response

    def _auth(self, request: web.Request, needed: bool) -> web.Response | None:
        """Mastodon's answers for a wrong token (401) or a missing one where needed (422)."""
        given = _token(request)
        if given is not None and given != self.token:
            return web.json_response(INVALID_TOKEN, status=401)
        if given is None and needed:
            return web.json_response(SIGNED_IN_ONLY, status=422)
        return None

    async def _instance(self, request: web.Request) -> web.Response:
        return web.json_response({
            "domain": self.domain,
            "title": "Fake Mastodon",
            "version": "4.3.0",
            "source_url": "https://github.com/mastodon/mastodon",
            "configuration": {
                "urls": {"streaming": (self.streaming_url or self.base).replace("http", "ws", 1)},
                "statuses": {"max_characters": 500},
            },
        })

    async def _verify(self, request: web.Request) -> web.Response:
        if _token(request) is None:
            return web.json_response({"error": "The access token is invalid"}, status=401)
        refused = self._auth(request, needed=True)
        return refused or web.json_response({"name": "hashwall", "website": None,
                                             "scopes": ["read"]})

    async def _tag_timeline(self, request: web.Request) -> web.Response:
        refused = self._auth(request, needed=self.signed_in_only)
        if refused is not None:
            return refused
        wanted = {request.match_info["hashtag"].casefold()}
        wanted |= {v.casefold() for k, v in request.query.items() if k in ("any[]", "any")}
        try:
            limit = min(int(request.query.get("limit", DEFAULT_LIMIT)), MAX_LIMIT)
        except ValueError:
            return web.json_response({"error": "limit must be a number"}, status=400)
        max_id, since_id = request.query.get("max_id"), request.query.get("since_id")
        min_id = request.query.get("min_id")
        found = [s for s in self.statuses if not s.deleted and s.tags & wanted
                 and s.status.get("visibility") == "public"]
        found.sort(key=lambda s: _key(s.local_id), reverse=True)  # newest first
        if max_id:
            found = [s for s in found if _key(s.local_id) < _key(max_id)]
        if since_id:
            found = [s for s in found if _key(s.local_id) > _key(since_id)]
        if min_id:
            # The page right after min_id: the oldest newer ones, still sent newest first.
            newer = [s for s in found if _key(s.local_id) > _key(min_id)]
            page = list(reversed(list(reversed(newer))[:limit]))
        else:
            page = found[:limit]
        headers = {}
        if page:
            path = f"{self.base}{request.path}"
            headers["Link"] = (f'<{path}?max_id={page[-1].local_id}>; rel="next", '
                               f'<{path}?min_id={page[0].local_id}>; rel="prev"')
        return web.json_response([s.status for s in page], headers=headers)

    async def _health(self, request: web.Request) -> web.Response:
        return web.Response(text="OK")

    # -- streaming ----------------------------------------------------------------------

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        if not self.websocket:
            return web.json_response({"error": "Not found"}, status=404)
        protocol = request.headers.get("Sec-WebSocket-Protocol")
        given = _token(request) or protocol
        if given != self.token:
            return web.json_response({"error": "Error: Missing access token"}, status=401)
        ws = web.WebSocketResponse(protocols=(protocol,) if protocol else ())
        await ws.prepare(request)
        subscriber = _Subscriber(set(), lambda tag, event, payload: asyncio.ensure_future(
            ws.send_str(json.dumps({"stream": ["hashtag", tag], "event": event,
                                    "payload": payload}))),
            lambda: asyncio.ensure_future(_abort(ws, request)))
        if request.query.get("stream") == "hashtag" and request.query.get("tag"):
            subscriber.tags.add(request.query["tag"].casefold())
        self._subscribers.append(subscriber)
        self._changed.set()
        try:
            async for message in ws:
                if message.type is not WSMsgType.TEXT:
                    continue
                try:
                    command = json.loads(message.data)
                except ValueError:
                    await ws.send_str(json.dumps({"error": "Invalid JSON", "status": 400}))
                    continue
                tag = str(command.get("tag") or "").casefold()
                if command.get("stream") != "hashtag" or not tag:
                    await ws.send_str(json.dumps({"error": "Unknown stream type",
                                                  "status": 400}))
                elif command.get("type") == "subscribe":
                    subscriber.tags.add(tag)
                elif command.get("type") == "unsubscribe":
                    subscriber.tags.discard(tag)
                self._changed.set()
        finally:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)
            self._changed.set()
        return ws

    async def _sse(self, request: web.Request) -> web.StreamResponse:
        if not self.sse:
            return web.json_response({"error": "Not found"}, status=404)
        if _token(request) != self.token:
            return web.json_response({"error": "Error: Missing access token"}, status=401)
        tag = request.query.get("tag", "").casefold()
        if not tag:
            return web.json_response({"error": "No tag for stream provided"}, status=400)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                               "Cache-Control": "no-store"})
        await response.prepare(request)
        await response.write(b":)\n")
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()

        def send(_tag: str, event: str, payload: Any) -> None:
            queue.put_nowait(f"event: {event}\ndata: {payload}\n\n".encode())

        subscriber = _Subscriber({tag}, send, lambda: queue.put_nowait(None))
        self._subscribers.append(subscriber)
        self._changed.set()
        try:
            while True:
                try:
                    chunk = await asyncio.wait_for(queue.get(), self.heartbeat)
                except TimeoutError:
                    chunk = b":thump\n"
                if chunk is None:
                    assert request.transport is not None
                    request.transport.abort()  # a dropped connection, not a clean end
                    break
                await response.write(chunk)
        finally:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)
            self._changed.set()
        return response

    def _publish(self, tags: frozenset[str], event: str, payload: str) -> None:
        for subscriber in list(self._subscribers):
            for tag in subscriber.tags & tags:
                subscriber.send(tag, event, payload)
                break

    def _find(self, local_id: str) -> _Stored:
        return next(s for s in self.statuses if s.local_id == local_id)


async def _abort(ws: web.WebSocketResponse, request: web.Request) -> None:
    if request.transport is not None:
        request.transport.abort()


def _token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[len("Bearer "):].strip() or None
    return request.query.get("access_token") or None


def _key(local_id: str) -> tuple[int, str]:
    return (len(local_id), local_id)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
