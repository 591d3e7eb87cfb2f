"""Mastodon's REST calls the source and `hashwall mastodon check` make, with its errors
turned into what the streaming base understands (Retry, Fatal)."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import aiohttp

from server.sources.backoff import HTTP, NETWORK, RATE_LIMITED
from server.sources.health import now_utc
from server.sources.mastodon.protocol import retry_after
from server.sources.streaming import Fatal, Retry

logger = logging.getLogger(__name__)

# Mastodon answers at most 40 statuses a page.
PAGE_LIMIT = 40
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=30, sock_connect=10)
SIGNED_IN_ONLY = "signed_in_only"


class MastodonHTTPError(Exception):
    """A Mastodon server answered an HTTP error."""

    def __init__(self, host: str, path: str, status: int, error: str,
                 headers: dict[str, str]) -> None:
        self.host, self.path, self.status, self.error = host, path, status, error
        self.headers = headers
        super().__init__(f"{host} answered HTTP {status} to {path}: {error}")


async def get_json(session: aiohttp.ClientSession, base: str, path: str, token: str | None,
                   params: list[tuple[str, str]] | None = None,
                   ) -> tuple[Any, dict[str, str]]:
    """GET a JSON resource; raise MastodonHTTPError for an error answer."""
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    async with session.get(base + path, params=params or [], headers=headers,
                           timeout=REQUEST_TIMEOUT) as response:
        answer = dict(response.headers)
        if response.status >= 400:
            text = await response.text(errors="replace")
            error = text[:200]
            try:
                body = await response.json(content_type=None)
                if isinstance(body, dict) and isinstance(body.get("error"), str):
                    error = body["error"]
            except ValueError:
                pass
            raise MastodonHTTPError(base.split("://", 1)[-1], path, response.status, error,
                                    answer)
        try:
            return await response.json(content_type=None), answer
        except ValueError as exc:
            raise MastodonHTTPError(base.split("://", 1)[-1], path, response.status,
                                    f"expected JSON, got something else ({exc})",
                                    answer) from None


def tag_timeline_request(tags: list[str], min_id: str | None,
                         limit: int = PAGE_LIMIT) -> tuple[str, list[tuple[str, str]]]:
    """The path and query of one hashtag timeline page: the first tag in the path, the
    others as `any[]`, only statuses newer than `min_id`."""
    names = [t.lstrip("#") for t in tags]
    params = [("limit", str(limit))] + [("any[]", name) for name in names[1:]]
    if min_id:
        params.append(("min_id", min_id))
    return f"/api/v1/timelines/tag/{quote(names[0], safe='')}", params


def signed_in_only(error: MastodonHTTPError, token: str | None) -> bool:
    """Whether an error says the server lets only signed-in users read the timeline."""
    return error.status == 422 or (error.status == 401 and token is None)


def as_source_error(error: MastodonHTTPError, token: str | None) -> Retry | Fatal:
    """What the streaming base should do about an error answer."""
    host = error.host
    if signed_in_only(error, token):
        return Fatal(f"{host} lets only signed-in users read hashtag timelines (HTTP "
                     f"{error.status}: {error.error}); give a read token for {host} in "
                     f"HASHWALL_MASTODON_TOKENS", state="failed")
    if error.status in (401, 403):
        return Fatal(f"{host} refused the read token (HTTP {error.status}: {error.error}); "
                     f"check its entry in HASHWALL_MASTODON_TOKENS")
    if error.status == 429:
        return Retry(f"{host} rate-limited us (HTTP 429: {error.error})", RATE_LIMITED,
                     retry_after(error.headers, now_utc()))
    return Retry(str(error), HTTP,
                 retry_after(error.headers, now_utc()))


def network_error(host: str, exc: BaseException) -> Retry:
    """A Retry for a connection that failed or broke."""
    return Retry(f"{host}: connection error: {type(exc).__name__}: {exc}", NETWORK)
