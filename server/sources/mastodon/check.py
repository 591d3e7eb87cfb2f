"""`hashwall mastodon check`: for each server, whether it answers, whether its token works,
whether the hashtag timeline is readable, and where its streaming API is."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiohttp

from server.sources.mastodon.config import host_of
from server.sources.mastodon.rest import (
    MastodonHTTPError,
    get_json,
    signed_in_only,
    tag_timeline_request,
)


async def check(instances: Sequence[str], tokens: dict[str, str],
                hashtags: Sequence[str]) -> list[dict[str, Any]]:
    """One report per server; `ok` is False when the server cannot be followed."""
    async with aiohttp.ClientSession() as session:
        return [await _check_one(session, base, tokens.get(host_of(base)), hashtags)
                for base in instances]


async def _check_one(session: aiohttp.ClientSession, base: str, token: str | None,
                     hashtags: Sequence[str]) -> dict[str, Any]:
    host = host_of(base)
    report: dict[str, Any] = {"server": host, "ok": False, "answers": False,
                              "version": None, "token": None, "tag_timeline": None,
                              "streaming_url": None, "mode": None}
    try:
        instance, _ = await get_json(session, base, "/api/v2/instance", None)
    except MastodonHTTPError as exc:
        report["answers"] = f"no: HTTP {exc.status}: {exc.error}"
        return report
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        report["answers"] = f"no: {type(exc).__name__}: {exc}"
        return report
    report["answers"] = True
    if isinstance(instance, dict):
        report["version"] = instance.get("version")
        urls = (instance.get("configuration") or {}).get("urls") or {}
        report["streaming_url"] = urls.get("streaming") if isinstance(urls, dict) else None
    if token:
        try:
            await get_json(session, base, "/api/v1/apps/verify_credentials", token)
            report["token"] = "works"
        except MastodonHTTPError as exc:
            report["token"] = f"refused: HTTP {exc.status}: {exc.error}"
            return report
    else:
        report["token"] = "none: the server will be polled"
    path, params = tag_timeline_request(list(hashtags), None, 1)
    try:
        page, _ = await get_json(session, base, path, token, params)
        report["tag_timeline"] = (f"readable ({len(page)} recent status"
                                  f"{'' if len(page) == 1 else 'es'} shown of the latest)"
                                  if isinstance(page, list) else "readable")
    except MastodonHTTPError as exc:
        if signed_in_only(exc, token):
            report["tag_timeline"] = (f"signed-in users only (HTTP {exc.status}: {exc.error}):"
                                      f" add a read token for {host} to "
                                      "HASHWALL_MASTODON_TOKENS")
        else:
            report["tag_timeline"] = f"not readable: HTTP {exc.status}: {exc.error}"
        return report
    report["mode"] = "streaming" if token else "polling"
    report["ok"] = True
    return report
