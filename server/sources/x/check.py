"""`hashwall x check`: whether the token works, and the rules active on the stream."""

from __future__ import annotations

from typing import Any

import aiohttp
from tweepy.errors import Forbidden, HTTPException, Unauthorized

from server.sources.x.client import DEFAULT_API_URL, XStreamingClient
from server.sources.x.rules import XApiError, auth_error, describe_http_error, fetch_rules


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
