"""The Mastodon source: the event's hashtags on several servers at once, each through one
streaming websocket, server-sent events as fallback, or polling as last resort; backfilled
from the last status seen on each server, so a restart misses nothing and repeats nothing."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from moderation.exceptions import MalformedPayload
from moderation.store import Store
from server.sources.backoff import BackoffPolicy
from server.sources.base import Sink
from server.sources.cursor import SourceCursor
from server.sources.health import Health, combined
from server.sources.mastodon.config import host_of
from server.sources.mastodon.normalise import admissible, normalise_status
from server.sources.mastodon.protocol import (
    DELETE,
    STATUS_UPDATE,
    UPDATE,
    Comment,
    SseParser,
    StreamEvent,
    id_key,
    newest_id,
    parse_ws_message,
    subscribe_message,
)
from server.sources.mastodon.rest import (
    PAGE_LIMIT,
    MastodonHTTPError,
    as_source_error,
    get_json,
    network_error,
    tag_timeline_request,
)
from server.sources.streaming import KEEP_ALIVE, Retry, Sleep, SourceError, StreamingSource

logger = logging.getLogger(__name__)

NAME = "mastodon"
STREAMING = "streaming"
SSE = "sse"
POLLING = "polling"
# Without a token, or when streaming fails: one hashtag timeline request per server this
# often (two tags in one request through `any[]`), far below Mastodon's 300 requests per
# 5 minutes.
DEFAULT_POLL_SECONDS = 10.0
# A backfill reads at most this many pages (40 statuses each) before streaming again.
MAX_BACKFILL_PAGES = 25
# A websocket quiet this long yields a keep-alive if it is still open (aiohttp's own pings
# close a dead one).
WS_QUIET = 20.0
WS_HEARTBEAT = 30.0
# Ids already handed on (across servers) and local ids remembered per server for deletes.
SEEN_SIZE = 20_000
LOCAL_IDS = 20_000
RETRACT_REASON = "deleted by its author on Mastodon"
# Mastodon documents no reconnect policy: reconnect at once after a drop, then a second
# more each time up to 30 s; HTTP errors from 5 s doubling to 5 minutes; a rate limit waits
# at least a minute, or what Retry-After / X-RateLimit-Reset says.
MASTODON_BACKOFF = BackoffPolicy(network_step=1.0, network_max=30.0, http_start=5.0,
                                 http_max=300.0, rate_limit_start=60.0)


@dataclass
class ServerHealth(Health):
    """One server's health: the generic fields plus how it is followed."""

    mode: str = POLLING
    errors: int = 0
    streaming_url: str | None = None
    dropped_not_public: int = 0
    statuses: int = 0  # statuses read, whatever became of them
    handed_on: int = 0  # posts offered to the pipeline and deletions retracted

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "mode": self.mode, "errors": self.errors,
                "streaming_url": self.streaming_url,
                "dropped_not_public": self.dropped_not_public, "statuses": self.statuses,
                "handed_on": self.handed_on}


@dataclass
class _Server:
    base: str
    host: str
    token: str | None
    health: ServerHealth
    cursor: SourceCursor
    mode: str = POLLING
    last_id: str | None = None
    streaming_url: str | None = None
    ws: aiohttp.ClientWebSocketResponse | None = None
    sse: aiohttp.ClientResponse | None = None
    local: OrderedDict[str, list[str]] = field(default_factory=OrderedDict)
    polled_at: float = float("-inf")


class MastodonSource(StreamingSource):
    """Follows the hashtags on every listed server; one connection (key) per server."""

    name = NAME

    def __init__(self, instances: Sequence[str], hashtags: Sequence[str], sink: Sink,
                 store: Store, *, tokens: dict[str, str] | None = None,
                 poll_seconds: float = DEFAULT_POLL_SECONDS, allow_unlisted: bool = False,
                 backoff_scale: float = 1.0, policy: BackoffPolicy = MASTODON_BACKOFF,
                 sleep: Sleep = asyncio.sleep) -> None:
        super().__init__(sink, policy=policy, stall_timeout=max(90.0, poll_seconds * 3),
                         backoff_scale=backoff_scale, sleep=sleep)
        self.tags = [t.lstrip("#") for t in hashtags]
        self.poll_seconds = poll_seconds
        self.allow_unlisted = allow_unlisted
        self.store = store
        tokens = tokens or {}
        self.servers: dict[str, _Server] = {}
        for base in instances:
            host = host_of(base)
            token = tokens.get(host)
            health = ServerHealth(mode=STREAMING if token else POLLING)
            self.parts[host] = health
            self.servers[host] = _Server(base, host, token, health,
                                         SourceCursor(store, NAME, host), mode=health.mode)
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._session: aiohttp.ClientSession | None = None

    # -- the streaming base's hooks ---------------------------------------------------

    def keys(self) -> Sequence[str]:
        return tuple(self.servers)

    async def prepare(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        for server in self.servers.values():
            if server.last_id is None:
                server.last_id = await server.cursor.load()

    async def connect(self, key: str) -> None:
        server = self.servers[key]
        try:
            await self._connect(server)
        except SourceError:
            server.health.errors += 1
            raise
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            server.health.errors += 1
            raise network_error(server.host, exc) from None

    def read(self, key: str) -> AsyncIterator[Any]:
        return self._read(self.servers[key])

    async def handle(self, key: str, item: Any) -> None:
        server = self.servers[key]
        if not isinstance(item, StreamEvent):
            return
        if item.event in (UPDATE, STATUS_UPDATE):
            await self._status(server, item.payload)
        elif item.event == DELETE:
            await self._delete(server, str(item.payload))

    async def disconnect(self, key: str) -> None:
        server = self.servers[key]
        ws, server.ws = server.ws, None
        if ws is not None:
            await ws.close()
        response, server.sse = server.sse, None
        if response is not None:
            response.close()
        await server.cursor.flush()

    async def stop(self) -> None:
        await super().stop()
        for server in self.servers.values():
            with contextlib.suppress(Exception):
                await server.cursor.flush()
        if self._session is not None:
            await self._session.close()
            self._session = None

    def health(self) -> dict[str, Any]:
        """Per server under `connections`; the source is ok while one server still runs."""
        health = combined(self.name, dict(self.parts))
        if len(self.parts) > 1:
            health["ok"] = any(part.ok for part in self.parts.values())
        elif len(self.parts) == 1:
            health.update(next(iter(self.parts.values())).to_dict())
            health["connections"] = {k: p.to_dict() for k, p in self.parts.items()}
        return health

    # -- connecting -------------------------------------------------------------------

    async def _connect(self, server: _Server) -> None:
        """Open the server's stream (when it has a token), then backfill what was missed."""
        if server.mode != POLLING and server.streaming_url is None:
            server.streaming_url = await self._streaming_url(server)
            server.health.streaming_url = server.streaming_url
        if server.mode == STREAMING:
            try:
                await self._open_websocket(server)
            except (aiohttp.WSServerHandshakeError, aiohttp.ClientResponseError) as exc:
                self._downgrade(server, SSE, f"websocket refused: HTTP {exc.status}")
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                raise network_error(server.host, exc) from None
        if server.mode == SSE:
            try:
                await self._open_sse(server)
            except MastodonHTTPError as exc:
                self._downgrade(server, POLLING, f"server-sent events refused: HTTP "
                                                 f"{exc.status}: {exc.error}")
        server.health.mode = server.mode
        for status in await self._fetch_new(server):
            await self._status(server, status)

    def _downgrade(self, server: _Server, mode: str, why: str) -> None:
        logger.warning("mastodon %s: %s; falling back to %s", server.host, why, mode)
        server.mode = mode
        server.health.mode = mode
        server.health.last_error = why

    async def _streaming_url(self, server: _Server) -> str:
        """Where the server's streaming API lives (`configuration.urls.streaming`)."""
        try:
            instance, _ = await get_json(self._http(), server.base, "/api/v2/instance", None)
        except MastodonHTTPError as exc:
            if exc.status in (404, 410):
                return server.base  # an older server: streaming on the same host
            raise as_source_error(exc, server.token) from None
        urls = instance.get("configuration", {}).get("urls", {}) if isinstance(
            instance, dict) else {}
        url = urls.get("streaming") if isinstance(urls, dict) else None
        if not isinstance(url, str) or "://" not in url:
            return server.base
        return url.rstrip("/")

    async def _open_websocket(self, server: _Server) -> None:
        assert server.streaming_url is not None and server.token is not None
        url = server.streaming_url.replace("https://", "wss://").replace("http://", "ws://")
        ws = await self._http().ws_connect(
            url + "/api/v1/streaming", headers={"Authorization": f"Bearer {server.token}"},
            heartbeat=WS_HEARTBEAT, max_msg_size=4 * 1024 * 1024)
        server.ws = ws
        for tag in self.tags:
            await ws.send_str(subscribe_message(tag))

    async def _open_sse(self, server: _Server) -> None:
        """One SSE connection for the first hashtag: Mastodon's SSE endpoint takes one tag,
        so the other tags are read from the tag timeline whenever the stream speaks (an
        event or its 15 s heartbeat)."""
        assert server.streaming_url is not None and server.token is not None
        url = server.streaming_url.replace("wss://", "https://").replace("ws://", "http://")
        response = await self._http().get(
            url + "/api/v1/streaming/hashtag", params={"tag": self.tags[0]},
            headers={"Authorization": f"Bearer {server.token}",
                     "Accept": "text/event-stream"},
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10))
        if response.status != 200 or not response.content_type.startswith("text/event-stream"):
            text = (await response.text(errors="replace"))[:200]
            response.close()
            raise MastodonHTTPError(server.host, "/api/v1/streaming/hashtag", response.status,
                                    text, dict(response.headers))
        server.sse = response

    # -- reading ----------------------------------------------------------------------

    async def _read(self, server: _Server) -> AsyncIterator[Any]:
        try:
            if server.mode == STREAMING and server.ws is not None:
                async for item in self._read_websocket(server, server.ws):
                    yield item
            elif server.mode == SSE and server.sse is not None:
                async for item in self._read_sse(server, server.sse):
                    yield item
            else:
                async for item in self._poll(server):
                    yield item
        except SourceError:
            server.health.errors += 1
            raise
        except (aiohttp.ClientError, OSError) as exc:
            server.health.errors += 1
            raise network_error(server.host, exc) from None

    async def _read_websocket(self, server: _Server,
                              ws: aiohttp.ClientWebSocketResponse) -> AsyncIterator[Any]:
        while True:
            try:
                message = await ws.receive(timeout=WS_QUIET)
            except TimeoutError:
                yield KEEP_ALIVE
                continue
            if message.type is aiohttp.WSMsgType.TEXT:
                try:
                    event = parse_ws_message(message.data)
                except MalformedPayload as exc:
                    self._malformed(server, exc)
                    continue
                if event is not None:
                    yield event
            elif message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING,
                                  aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                return

    async def _read_sse(self, server: _Server,
                        response: aiohttp.ClientResponse) -> AsyncIterator[Any]:
        parser = SseParser()
        async for chunk in response.content.iter_any():
            try:
                items = parser.feed(chunk)
            except MalformedPayload as exc:
                self._malformed(server, exc)
                parser = SseParser()
                continue
            for item in items:
                yield KEEP_ALIVE if isinstance(item, Comment) else item
            now = asyncio.get_running_loop().time()
            if len(self.tags) > 1 and now - server.polled_at >= self.poll_seconds:
                # The other tags have no SSE stream: their timeline is read when the stream
                # speaks (its heartbeat comes every 15 s), at most once per poll interval.
                server.polled_at = now
                for status in await self._fetch_new(server):
                    yield StreamEvent(UPDATE, status)

    async def _poll(self, server: _Server) -> AsyncIterator[Any]:
        while True:
            await asyncio.sleep(self.poll_seconds)
            for status in await self._fetch_new(server):
                yield StreamEvent(UPDATE, status)
            yield KEEP_ALIVE

    async def _fetch_new(self, server: _Server) -> list[dict[str, Any]]:
        """The statuses newer than the server's last seen id, oldest first (on a first
        start, the latest page only)."""
        found: dict[str, dict[str, Any]] = {}
        since = server.last_id
        for _ in range(MAX_BACKFILL_PAGES):
            path, params = tag_timeline_request(self.tags, since, PAGE_LIMIT)
            try:
                page, _headers = await get_json(self._http(), server.base, path, server.token,
                                                params)
            except MastodonHTTPError as exc:
                raise as_source_error(exc, server.token) from None
            if not isinstance(page, list):
                raise Retry(f"{server.host}: expected a list of statuses from {path}, got "
                            f"{type(page).__name__}")
            statuses = [s for s in page if isinstance(s, dict) and isinstance(s.get("id"), str)]
            for status in statuses:
                found[status["id"]] = status
            if since is None or len(statuses) < PAGE_LIMIT:
                break
            since = newest_id([s["id"] for s in statuses], since)
        return sorted(found.values(), key=lambda s: id_key(s["id"]))

    # -- what arrives -----------------------------------------------------------------

    async def _status(self, server: _Server, status: Any) -> None:
        if not isinstance(status, dict):
            raise MalformedPayload(f"Expected a status object, but got {type(status).__name__}")
        local_id = status.get("id")
        if isinstance(local_id, str) and local_id:
            newest = newest_id([local_id], server.last_id)
            if newest != server.last_id:
                server.last_id = newest
                await server.cursor.note(newest or "")
        server.health.statuses += 1
        if not admissible(status, self.allow_unlisted):
            server.health.dropped_not_public += 1
            return
        post = normalise_status(status, server.host)
        if isinstance(local_id, str):
            versions = server.local.setdefault(local_id, [])
            if post.id not in versions:
                versions.append(post.id)
            server.local.move_to_end(local_id)
            while len(server.local) > LOCAL_IDS:
                server.local.popitem(last=False)
        if post.id in self._seen:
            return  # the same status through another server, or backfill and stream both
        self._seen[post.id] = None
        while len(self._seen) > SEEN_SIZE:
            self._seen.popitem(last=False)
        await self.sink.offer(post)
        server.health.handed_on += 1
        self.changed()

    async def _delete(self, server: _Server, local_id: str) -> None:
        for post_id in server.local.pop(local_id, []):
            await self.sink.retract(post_id, RETRACT_REASON)
            server.health.handed_on += 1
        self.changed()

    def _malformed(self, server: _Server, exc: Exception) -> None:
        server.health.errors += 1
        self.note_error(server.host, f"malformed stream data: {exc}")
        logger.warning("mastodon %s sent malformed stream data: %s", server.host, exc)

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session

