"""The X API v2 over HTTP: tweepy's client for the rules (any base URL), and one stream
connection read line by line."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
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

from server.sources.base import HTTP, KEEP_ALIVE, NETWORK, RATE_LIMITED, Fatal, Retry
from server.sources.x.rules import XApiError

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.twitter.com"
STREAM_PATH = "/2/tweets/search/stream"
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
STREAM_PARAMS = {
    "expansions": ",".join(EXPANSIONS),
    "tweet.fields": ",".join(TWEET_FIELDS),
    "user.fields": ",".join(USER_FIELDS),
    "media.fields": ",".join(MEDIA_FIELDS),
}


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


class XStreamingClient(AsyncStreamingClient):  # type: ignore[misc]
    """tweepy's AsyncStreamingClient for any server that speaks the X API v2 protocol: the
    rules calls (`get_rules`, `add_rules`, `delete_rules`) go to `api_url`.

    tweepy hard-codes `https://api.twitter.com` in `AsyncBaseClient.request`; here the base
    URL is `api_url`. The stream itself is read by `XStream`, so that the streaming base owns
    the reconnect policy. Only app-only (bearer token) authentication is supported.
    """

    def __init__(self, bearer_token: str, *, api_url: str = DEFAULT_API_URL,
                 request_timeout: float = 30.0, **kwargs: Any) -> None:
        super().__init__(bearer_token, **kwargs)
        self.api_url = api_url.rstrip("/")
        self.request_timeout = request_timeout

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

    async def _connect(self, *args: Any, **kwargs: Any) -> None:
        raise XApiError("XStreamingClient only calls the rules endpoints; XStream reads the "
                        "stream")


def retry_after(headers: Any) -> float | None:
    """A Retry-After of whole seconds, or None."""
    value = headers.get("Retry-After") if headers is not None else None
    return float(value) if value is not None and str(value).isdigit() else None


class XStream:
    """One connection to the filtered stream: open it, then read its lines."""

    def __init__(self, bearer_token: str, api_url: str, request_timeout: float = 30.0,
                 user_agent: str = "hashwall") -> None:
        self.bearer_token = bearer_token
        self.api_url = api_url.rstrip("/")
        self.request_timeout = request_timeout
        self.user_agent = user_agent
        self._session: aiohttp.ClientSession | None = None
        self._response: aiohttp.ClientResponse | None = None

    async def open(self) -> None:
        """Connect; raise `Fatal` (401, 403), `StreamHTTPError` or `Retry` when refused."""
        await self.close()
        headers = {"User-Agent": self.user_agent, "Authorization": f"Bearer {self.bearer_token}"}
        # No read timeout here: the streaming base drops a connection that stalls.
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.request_timeout)
        self._session = aiohttp.ClientSession(timeout=timeout)
        try:
            response = await self._session.get(self.api_url + STREAM_PATH,
                                               params=STREAM_PARAMS, headers=headers)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            await self.close()
            raise Retry(f"connection error: {type(exc).__name__}: {exc}", NETWORK) from exc
        self._response = response
        if response.status != 200:
            body = await response.text()
            wait = retry_after(response.headers)
            await self.close()
            error = StreamHTTPError(response.status, body)
            if error.status in (401, 403):
                raise Fatal(f"X refused the bearer token ({error}); check X_BEARER_TOKEN")
            if error.status == 409:
                raise error  # the rules are gone: the source puts them back
            kind = RATE_LIMITED if error.status == 429 else HTTP
            raise Retry(str(error), kind, wait)

    async def lines(self) -> AsyncIterator[Any]:
        """Each line as bytes, or `KEEP_ALIVE` for an empty one, however the chunks cut
        them; a line longer than MAX_LINE_BYTES is dropped."""
        assert self._response is not None
        buffer = b""
        oversized = False
        try:
            async for chunk in self._response.content.iter_any():
                buffer += chunk
                while b"\n" in buffer:
                    line, _, buffer = buffer.partition(b"\n")
                    if oversized:
                        oversized = False
                        continue
                    line = line.strip()
                    yield line if line else KEEP_ALIVE
                if len(buffer) > MAX_LINE_BYTES:
                    logger.warning("Dropped a stream line longer than %d bytes", MAX_LINE_BYTES)
                    buffer, oversized = b"", True
        except (aiohttp.ClientError, OSError) as exc:
            raise Retry(f"connection error: {type(exc).__name__}: {exc}", NETWORK) from exc

    async def close(self) -> None:
        """Close the connection (no-op when closed)."""
        response, self._response = self._response, None
        session, self._session = self._session, None
        if response is not None:
            response.close()
        if session is not None:
            await session.close()


__all__ = ["DEFAULT_API_URL", "EXPANSIONS", "MEDIA_FIELDS", "TWEET_FIELDS", "USER_FIELDS",
           "HTTPException", "StreamHTTPError", "TooManyRequests", "XStream", "XStreamingClient"]
