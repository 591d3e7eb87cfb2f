"""Follow the event's hashtags on the X API v2 filtered stream and hand each new Post to a sink."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
from tweepy.asynchronous import AsyncStreamingClient
from tweepy.errors import (
    BadRequest,
    Forbidden,
    HTTPException,
    NotFound,
    TooManyRequests,
    TwitterServerError,
    Unauthorized,
)

from moderation import jsoncodec
from moderation.exceptions import MalformedPayload
from moderation.post import Post
from moderation.x_normalise import normalise_stream_item
from server.x_rules import (
    DEFAULT_TAG_PREFIX,
    MAX_RULE_LENGTH,
    XApiError,
    XAuthError,
    XRuleError,
    auth_error,
    build_rules,
    describe_http_error,
    fetch_rules,
    sync_rules,
)

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.twitter.com"
# X sends a keep-alive at least every 20 s: a longer silence means the connection is dead.
STALL_TIMEOUT = 20.0
DEDUPE_SIZE = 10_000
MAX_LINE_BYTES = 4 * 1024 * 1024

# What a wall shows: author, media, quoted/retweeted posts, entities, long text, edits.
EXPANSIONS = [
    "author_id",
    "attachments.media_keys",
    "referenced_tweets.id",
    "referenced_tweets.id.author_id",
]
TWEET_FIELDS = [
    "attachments",
    "author_id",
    "created_at",
    "edit_history_tweet_ids",
    "entities",
    "lang",
    "note_tweet",
    "possibly_sensitive",
    "referenced_tweets",
]
USER_FIELDS = ["name", "username", "profile_image_url", "verified"]
MEDIA_FIELDS = ["type", "url", "preview_image_url", "alt_text", "width", "height", "variants"]

Sink = Callable[[Post], Awaitable[object]]


class StreamHTTPError(XApiError):
    """The stream endpoint answered an HTTP error instead of a stream."""

    def __init__(self, status: int, body: str) -> None:
        self.status = status
        self.body = body
        try:
            problem = json.loads(body)
        except ValueError:
            problem = None
        self.problem: dict[str, Any] = problem if isinstance(problem, dict) else {}
        title = self.problem.get("title", "")
        detail = self.problem.get("detail") or body[:200]
        super().__init__(f"HTTP {status} {title}: {detail}".replace(" :", ":"))


class StreamEnded(XApiError):
    """The stream connection ended: closed, dropped, silent too long, or disconnected upstream."""


@dataclass
class Backoff:
    """The reconnect waits X documents; `scale` multiplies every wait (tests shrink it).

    Network errors wait 0 s, then 250 ms more each attempt up to 16 s; HTTP errors wait 5 s,
    doubling up to 320 s; HTTP 429 waits at least 60 s, doubling up to 320 s. A connection
    that delivers something resets them.
    """

    scale: float = 1.0
    network_step: float = 0.25
    network_max: float = 16.0
    http_start: float = 5.0
    http_max: float = 320.0
    rate_limit_start: float = 60.0

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget past failures."""
        self._network: float | None = None
        self._http: float | None = None

    def network(self) -> float:
        """The nominal wait after a network error, a drop or a stall."""
        self._network = 0.0 if self._network is None else self._network + self.network_step
        self._network = min(self._network, self.network_max)
        return self._network

    def http_error(self) -> float:
        """The nominal wait after an HTTP error other than 429."""
        self._http = self.http_start if self._http is None else self._http * 2
        self._http = min(self._http, self.http_max)
        return self._http

    def rate_limited(self) -> float:
        """The nominal wait after HTTP 429."""
        current = self.rate_limit_start if self._http is None else self._http * 2
        self._http = min(max(current, self.rate_limit_start), self.http_max)
        return self._http


class RecentIds:
    """The last `size` post ids seen, oldest forgotten first."""

    def __init__(self, size: int = DEDUPE_SIZE) -> None:
        self.size = size
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, post_id: object) -> bool:
        return post_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, post_id: str) -> None:
        """Remember an id, forgetting the oldest beyond the size."""
        self._ids[post_id] = None
        self._ids.move_to_end(post_id)
        while len(self._ids) > self.size:
            self._ids.popitem(last=False)


class XStreamingClient(AsyncStreamingClient):  # type: ignore[misc]
    """tweepy's AsyncStreamingClient for any server that speaks the X API v2 protocol.

    tweepy hard-codes `https://api.twitter.com` in `AsyncStreamingClient._connect` and in
    `AsyncBaseClient.request`; here the base URL is `api_url`. `_connect` makes ONE
    connection attempt and raises `StreamHTTPError` or `StreamEnded` when it ends, so the
    caller owns the reconnect policy: tweepy's loop cannot stop on 401/403, re-sync rules on
    409, have its waits shortened, or outlive an exception raised in a callback. Callbacks
    (`on_data`, `on_keep_alive`, ...) keep tweepy's names; an exception in one is logged and
    the stream goes on. Only app-only (bearer token) authentication is supported.
    """

    def __init__(
        self,
        bearer_token: str,
        *,
        api_url: str = DEFAULT_API_URL,
        stall_timeout: float = STALL_TIMEOUT,
        request_timeout: float = 30.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(bearer_token, **kwargs)
        self.api_url = api_url.rstrip("/")
        self.stall_timeout = stall_timeout
        self.request_timeout = request_timeout
        self._end_reason: str | None = None

    # tweepy logs these at ERROR level; the caller reports the outcome once, with its wait.
    async def on_closed(self, resp: aiohttp.ClientResponse) -> None:
        logger.debug("Stream closed by the server")

    async def on_connection_error(self) -> None:
        logger.debug("Stream connection errored or timed out")

    async def on_request_error(self, status_code: int) -> None:
        logger.debug("Stream answered HTTP %d", status_code)

    def end_stream(self, reason: str) -> None:
        """Ask the running connection to close after the current line (from a callback)."""
        self._end_reason = reason

    async def request(
        self,
        method: str,
        route: str,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
        user_auth: bool = False,
    ) -> aiohttp.ClientResponse:
        """Call `api_url + route` with the bearer token; raise tweepy's HTTP exceptions."""
        if user_auth:
            raise XApiError("Only app-only (bearer token) authentication is supported")
        headers = {"User-Agent": self.user_agent, "Authorization": f"Bearer {self.bearer_token}"}
        # yarl refuses booleans in a query string; the API spells them true/false.
        query = {
            k: (str(v).lower() if isinstance(v, bool) else v) for k, v in (params or {}).items()
        }
        timeout = aiohttp.ClientTimeout(total=self.request_timeout)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.request(
                method, self.api_url + route, params=query, json=json, headers=headers
            ) as response:
                await response.read()
        if 200 <= response.status < 300:
            return response
        try:
            problem = await response.json(content_type=None)
        except ValueError:
            problem = {}
        problem = problem if isinstance(problem, dict) else {}
        exc_class = {
            400: BadRequest,
            401: Unauthorized,
            403: Forbidden,
            404: NotFound,
            429: TooManyRequests,
        }.get(response.status, TwitterServerError if response.status >= 500 else HTTPException)
        exc = exc_class(response, response_json=problem)
        exc.problem = problem  # the problem+json title and detail, for clear messages
        raise exc

    async def _connect(  # type: ignore[override]
        self, method: str, endpoint: str, params: dict[str, Any] | None = None, **_: Any
    ) -> None:
        """Open one stream connection and read it until it ends; raise to say how it ended."""
        self._end_reason = None
        url = f"{self.api_url}/2/tweets/{endpoint}/stream"
        headers = {"User-Agent": self.user_agent, "Authorization": f"Bearer {self.bearer_token}"}
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self.request_timeout, sock_read=self.stall_timeout
        )
        try:
            async with aiohttp.ClientSession(timeout=timeout) as session:
                async with session.request(
                    method, url, params=params, headers=headers, proxy=self.proxy
                ) as response:
                    if response.status != 200:
                        body = await response.text()
                        await self._safely(self.on_request_error, response.status)
                        raise StreamHTTPError(response.status, body)
                    await self._safely(self.on_connect)
                    await self._read_lines(response)
                    reason = self._end_reason or "the server closed the stream"
                    if self._end_reason is None:
                        await self._safely(self.on_closed, response)
                    raise StreamEnded(reason)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            await self._safely(self.on_connection_error)
            if isinstance(exc, TimeoutError):
                raise StreamEnded(
                    f"no data or keep-alive for {self.stall_timeout:g} s: the stream stalled"
                ) from exc
            raise StreamEnded(f"connection error: {type(exc).__name__}: {exc}") from exc
        finally:
            await self._safely(self.on_disconnect)

    async def _read_lines(self, response: aiohttp.ClientResponse) -> None:
        """Dispatch each line (items, keep-alives) however the chunks cut them."""
        buffer = b""
        oversized = False
        async for chunk in response.content.iter_any():
            buffer += chunk
            while b"\n" in buffer:
                line, _, buffer = buffer.partition(b"\n")
                if oversized:
                    oversized = False
                    continue
                line = line.strip()
                if line:
                    await self._safely(self.on_data, line)
                else:
                    await self._safely(self.on_keep_alive)
                if self._end_reason is not None:
                    return
            if len(buffer) > MAX_LINE_BYTES:
                logger.warning("Dropped a stream line longer than %d bytes", MAX_LINE_BYTES)
                buffer, oversized = b"", True

    async def _safely(self, callback: Callable[..., Awaitable[Any]], *args: Any) -> None:
        """Run a callback; log its exception instead of letting it end the stream."""
        try:
            await callback(*args)
        except Exception:
            logger.exception("Stream callback %s failed", getattr(callback, "__name__", callback))


class _WallStream(XStreamingClient):
    """The stream client of one XIngester: its callbacks report to the ingester."""

    def __init__(self, ingester: XIngester, bearer_token: str, **kwargs: Any) -> None:
        super().__init__(bearer_token, **kwargs)
        self.ingester = ingester

    async def on_connect(self) -> None:
        self.ingester._on_connect()

    async def on_keep_alive(self) -> None:
        self.ingester._on_alive()

    async def on_data(self, raw_data: bytes) -> None:
        await self.ingester._on_line(raw_data)

    async def on_disconnect(self) -> None:
        self.ingester._on_disconnect()


class XIngester:
    """Keeps the wall's rules in place, reads the filtered stream, hands new Posts to a sink.

    `start()` returns at once; the work runs in a background task that reconnects with the
    documented backoffs and stops for good (state "failed") only on a refused token or rule.
    """

    name = "x"

    def __init__(
        self,
        bearer_token: str,
        api_url: str = DEFAULT_API_URL,
        hashtags: Sequence[str] = (),
        sink: Sink | None = None,
        rule_tag_prefix: str = DEFAULT_TAG_PREFIX,
        *,
        exclude_retweets: bool = False,
        max_rule_length: int = MAX_RULE_LENGTH,
        stall_timeout: float = STALL_TIMEOUT,
        backoff_scale: float = 1.0,
        dedupe_size: int = DEDUPE_SIZE,
    ) -> None:
        if sink is None:
            raise ValueError("Expected a sink coroutine function for the posts, but got None")
        self.api_url = api_url.rstrip("/")
        self.rule_tag_prefix = rule_tag_prefix
        self.rules = build_rules(
            hashtags,
            tag_prefix=rule_tag_prefix,
            exclude_retweets=exclude_retweets,
            max_length=max_rule_length,
        )
        if not self.rules:
            raise ValueError("Expected at least one hashtag to follow, but got none")
        self.backoff = Backoff(scale=backoff_scale)
        self.history: deque[dict[str, Any]] = deque(maxlen=200)
        self._sink = sink
        self._client = _WallStream(
            self, bearer_token, api_url=self.api_url, stall_timeout=stall_timeout
        )
        self._seen = RecentIds(dedupe_size)
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self._state = "stopped"
        self._connected = False
        self._connects = 0
        self._alive_since_connect = False
        self._rules_synced = False
        self._active_rules: list[str] = []
        self._last_keep_alive: datetime | None = None
        self._last_error: str | None = None
        self._retry_in: float | None = None
        self._posts = 0
        self._duplicates = 0
        self._malformed = 0

    # -- public API --------------------------------------------------------------------

    async def start(self) -> None:
        """Start following the stream in the background (no-op if already running)."""
        if self._task is not None and not self._task.done():
            return
        self._rules_synced = False
        self._set_state("connecting")
        self._task = asyncio.create_task(self._run(), name="x-ingester")

    async def run(self) -> dict[str, Any]:
        """Start, then wait until the ingester fails or is stopped (the `ingest` process)."""
        await self.start()
        return await self.wait_for(lambda h: h["state"] in ("failed", "stopped"), None)

    async def stop(self) -> None:
        """Stop the stream and the background task; safe to call at any time, repeatedly."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait([task])
        self._client.disconnect()
        self._connected = False
        if self._state != "failed":
            self._set_state("stopped")

    @property
    def running(self) -> bool:
        """Whether the background task is alive (False once stopped or failed)."""
        return self._task is not None and not self._task.done()

    def health(self) -> dict[str, Any]:
        """The ingester's state as /healthz shows it."""
        return {
            "ok": self._state != "failed",
            "source": "x",
            "state": self._state,
            "connected": self._connected,
            "last_keep_alive": _iso(self._last_keep_alive),
            "reconnects": max(self._connects - 1, 0),
            "posts_received": self._posts,
            "items_received": self._posts,
            "duplicates_dropped": self._duplicates,
            "malformed_items": self._malformed,
            "last_error": self._last_error,
            "retry_in": self._retry_in,
            "rules": list(self._active_rules),
        }

    async def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float | None
    ) -> dict[str, Any]:
        """Wait until `predicate(health())` holds and return that health (for tests and tools)."""

        async def until() -> dict[str, Any]:
            while True:
                self._changed.clear()
                health = self.health()
                if predicate(health):
                    return health
                await self._changed.wait()

        return await asyncio.wait_for(until(), timeout)

    # -- the background loop -----------------------------------------------------------

    async def _run(self) -> None:
        """Sync rules, stream, and on every failure back off and try again."""
        while True:
            try:
                self._set_state("connecting")
                if not self._rules_synced:
                    await self._sync_rules()
                self._client.filter(
                    expansions=EXPANSIONS,
                    tweet_fields=TWEET_FIELDS,
                    user_fields=USER_FIELDS,
                    media_fields=MEDIA_FIELDS,
                )
                await self._client.task
            except (XAuthError, XRuleError) as exc:
                self._fail(str(exc))
                return
            except StreamHTTPError as exc:
                if exc.status in (401, 403):
                    self._fail(f"X refused the bearer token ({exc}); check X_BEARER_TOKEN")
                    return
                await self._back_off(str(exc), self._wait_for_status(exc.status))
            except TooManyRequests as exc:
                await self._back_off(describe_http_error(exc), self.backoff.rate_limited())
            except HTTPException as exc:
                await self._back_off(describe_http_error(exc), self.backoff.http_error())
            except (StreamEnded, aiohttp.ClientError, TimeoutError, OSError) as exc:
                await self._back_off(str(exc) or type(exc).__name__, self.backoff.network())
            except Exception as exc:
                logger.exception("X ingester hit an unexpected error")
                await self._back_off(f"{type(exc).__name__}: {exc}", self.backoff.http_error())

    def _wait_for_status(self, status: int) -> float:
        """The nominal wait after a stream HTTP error; 409 also re-syncs the rules first."""
        if status == 409:
            self._rules_synced = False
            return self.backoff.network()
        if status == 429:
            return self.backoff.rate_limited()
        return self.backoff.http_error()

    async def _sync_rules(self) -> None:
        """Put the wall's rules in place and remember what is active."""
        result = await sync_rules(self._client, self.rules, self.rule_tag_prefix)
        self._active_rules = [rule.value for rule in result.active]
        self._rules_synced = True

    async def _back_off(self, error: str, wait: float) -> None:
        """Record the failure and sleep the scaled wait before the next attempt."""
        self._last_error = error
        self._retry_in = wait
        logger.warning("X stream: %s; retrying in %.2f s", error, wait * self.backoff.scale)
        self._set_state("backing_off")
        await asyncio.sleep(wait * self.backoff.scale)
        self._retry_in = None

    def _fail(self, error: str) -> None:
        """Stop for good with a clear message: retrying cannot help."""
        self._last_error = error
        self._connected = False
        logger.error("X ingester stopped: %s", error)
        self._set_state("failed")

    def _set_state(self, state: str) -> None:
        self._state = state
        self.history.append({"state": state, "retry_in": self._retry_in, "error": self._last_error})
        self._changed.set()

    # -- stream callbacks --------------------------------------------------------------

    def _on_connect(self) -> None:
        self._connects += 1
        self._connected = True
        self._alive_since_connect = False
        logger.info("X stream connected to %s", self.api_url)
        self._set_state("connected")

    def _on_disconnect(self) -> None:
        if self._connected:
            self._connected = False
            self._changed.set()

    def _on_alive(self) -> None:
        self._last_keep_alive = datetime.now(UTC)
        if not self._alive_since_connect:
            # Only a connection that delivers something proves the trouble is over.
            self._alive_since_connect = True
            self.backoff.reset()
        self._changed.set()

    async def _on_line(self, raw: bytes) -> None:
        """Normalise one stream line and hand a new post to the sink; never raise."""
        self._on_alive()
        try:
            item = jsoncodec.loads(raw)
        except ValueError:
            self._skip(f"a stream line that is not JSON: {raw[:120]!r}")
            return
        if isinstance(item, dict) and "data" not in item and item.get("errors"):
            self._on_errors(item["errors"])
            return
        try:
            post = normalise_stream_item(item)
        except MalformedPayload as exc:
            self._skip(str(exc))
            return
        if post.id in self._seen:
            self._duplicates += 1
            self._changed.set()
            return
        try:
            await self._sink(post)
        except Exception as exc:
            logger.exception("The sink failed on post %s", post.id)
            self._last_error = f"sink failed on {post.id}: {type(exc).__name__}: {exc}"
            self._changed.set()
            return
        self._seen.add(post.id)
        self._posts += 1
        self._changed.set()

    def _on_errors(self, errors: Any) -> None:
        """Handle an error-only item: reconnect on operational-disconnect, log the rest."""
        errors = errors if isinstance(errors, list) else [errors]
        for error in errors:
            kind = str(error.get("type", "")) if isinstance(error, dict) else ""
            title = str(error.get("title", "")) if isinstance(error, dict) else ""
            if kind.endswith("/operational-disconnect") or title == "operational-disconnect":
                detail = error.get("detail", "")
                self._last_error = f"operational-disconnect: {detail}"
                self._client.end_stream(self._last_error)
                return
        self._last_error = f"X sent errors: {json.dumps(errors)[:300]}"
        logger.warning("X stream sent errors: %s", errors)
        self._changed.set()

    def _skip(self, why: str) -> None:
        self._malformed += 1
        self._last_error = f"skipped {why}"
        logger.warning("X stream: skipped %s", why)
        self._changed.set()


async def check(bearer_token: str, api_url: str = DEFAULT_API_URL) -> dict[str, Any]:
    """Whether the token works, and the active rules: `{"ok", "api_url", "rules"}`.

    Raises XAuthError when the token is refused and XApiError when the API cannot be used.
    """
    client = XStreamingClient(bearer_token, api_url=api_url)
    try:
        rules = await fetch_rules(client)
    except (Unauthorized, Forbidden) as exc:
        raise auth_error(exc) from exc
    except HTTPException as exc:
        raise XApiError(f"X API at {api_url} answered {describe_http_error(exc)}") from exc
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise XApiError(f"Could not reach the X API at {api_url}: {exc}") from exc
    return {"ok": True, "api_url": client.api_url, "rules": [rule.to_dict() for rule in rules]}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="milliseconds") if moment else None


__all__ = [
    "DEFAULT_API_URL",
    "Backoff",
    "RecentIds",
    "StreamEnded",
    "StreamHTTPError",
    "XIngester",
    "XStreamingClient",
    "check",
]
