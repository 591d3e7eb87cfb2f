"""Server-side validity of moderator sessions: revoked at logout, ended by a password change.

The session cookie is signed, so it cannot be forged, but a signed cookie alone stays valid
until it expires. Each session also carries:

- the moderator's session generation, a counter in the store (`Store.add_count`), so every
  web process agrees: signing out bumps it and ends every session of that moderator;
- a fingerprint of the password it was opened with (the shared password, or the account's
  hash in the accounts file): when the password changes, every session opened with the old
  one ends.

`SessionCheck` runs inside Starlette's session middleware and empties a stale session
before any endpoint reads it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from moderation.accounts import load_accounts
from moderation.store import StoreUnavailable
from server.state import Wall

logger = logging.getLogger(__name__)

GENERATION = "generation"
FINGERPRINT = "password"


def accounts_of(app: Any) -> dict[str, str] | None:
    """The accounts of `HASHWALL_ACCOUNTS_FILE`, read once per process; None without one."""
    wall: Wall = app.state.wall
    if wall.settings.accounts_file is None:
        return None
    if wall.accounts is None:
        wall.accounts = load_accounts(wall.settings.accounts_file)
    return wall.accounts


def generation_key(moderator: str) -> str:
    """The store counter whose value every live session of `moderator` carries."""
    return f"session-generation:{moderator.casefold()}"


def password_fingerprint(wall: Wall, accounts: dict[str, str] | None, moderator: str) -> str:
    """A keyed digest of the password a session depends on; changes when it changes."""
    if accounts is not None:
        secret = next((h for n, h in accounts.items() if n.casefold() == moderator.casefold()),
                      "")
    else:
        secret = wall.password
    key = (wall.settings.secret_key or "hashwall").encode()
    return hmac.new(key, secret.encode(), hashlib.sha256).hexdigest()[:32]


async def stamp(wall: Wall, accounts: dict[str, str] | None, moderator: str) -> dict[str, object]:
    """What a new session of `moderator` must carry to stay valid."""
    return {GENERATION: await wall.store.get_count(generation_key(moderator)),
            FINGERPRINT: password_fingerprint(wall, accounts, moderator)}


async def revoke(wall: Wall, moderator: str) -> None:
    """End every session of `moderator`, in every web process."""
    await wall.store.add_count(generation_key(moderator), 1)


class SessionCheck:
    """Empties the session of a request or socket when it was revoked or its password
    changed, so the endpoint sees an anonymous visitor."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        session = scope.get("session")
        if scope["type"] in ("http", "websocket") and session and "moderator" in session:
            app = scope["app"]
            wall: Wall = app.state.wall
            moderator = session["moderator"]
            accounts = accounts_of(app)
            try:
                async with asyncio.timeout(wall.settings.store_timeout):
                    fresh = isinstance(moderator, str) and session.get(FINGERPRINT) == (
                        password_fingerprint(wall, accounts, moderator)) and session.get(
                        GENERATION) == await wall.store.get_count(generation_key(moderator))
            except (StoreUnavailable, TimeoutError) as failure:
                logger.warning("cannot check a session: the store is unavailable (%s)",
                               failure or "no answer in time")
                await _unavailable(scope, send)
                return
            if not fresh:
                session.clear()
        await self.app(scope, receive, send)


async def _unavailable(scope: Scope, send: Send) -> None:
    if scope["type"] == "websocket":
        # Before the handshake is accepted, this refuses it; screens and consoles retry.
        await send({"type": "websocket.close", "code": 1013,
                    "reason": "store unavailable, try again later"})
        return
    body = b'{"error": "the store is unavailable; try again in a moment"}'
    await send({"type": "http.response.start", "status": 503,
                "headers": [(b"content-type", b"application/json"), (b"retry-after", b"1"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
