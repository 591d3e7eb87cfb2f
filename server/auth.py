"""Moderator sign-in, the session, CSRF tokens, and the Origin check of the moderator socket.

- Sign-in: with an accounts file (`HASHWALL_ACCOUNTS_FILE`, argon2 hashes) each moderator
  has a name and a password; without one, any name with the shared password.
- Throttle: failed sign-ins are remembered for an hour per client address (IPv6 by /64)
  and per (address, account name). The first 3 cost nothing; after each further one the
  address waits 5 s, 10 s, 20 s, … up to 15 minutes (server/throttle.py), answered as 429
  with `Retry-After` and `retry_after` (seconds) in the JSON body. Failures from other
  addresses never refuse a right password. On Redis every web process counts in Redis; a
  Redis out of reach refuses the sign-in (503) rather than skip the count.
- Session: a signed cookie (HttpOnly, SameSite=Strict, Secure behind HTTPS) whose content
  (a new session id and CSRF token) is replaced at every sign-in; signing out ends every
  session of that moderator, and a password change ends every session opened with the old
  one (server/sessions.py).
- CSRF: every state-changing request must carry the session's token in `X-CSRF-Token`;
  `POST /api/login` answers it, and `GET /api/me` tells it again.
- Origin: `/ws/moderate` refuses, before accepting, a handshake whose `Origin` is not the
  origin of `HASHWALL_PUBLIC_URL` (browsers do not apply the same-origin policy to
  websockets); clients that send no `Origin` are not browsers and still need the cookie.
"""

from __future__ import annotations

import asyncio
import hmac
import math
import secrets
from urllib.parse import urlsplit

from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse

from moderation.accounts import check_name, verify
from server import inputs, sessions
from server.state import Wall
from server.throttle import Throttle, address_key

SESSION_KEY = "moderator"
CSRF_KEY = "csrf"
CSRF_HEADER = "x-csrf-token"


def moderator_of(conn: HTTPConnection) -> str | None:
    """The name of the moderator signed in on this connection, or None."""
    name = conn.session.get(SESSION_KEY)
    return name if isinstance(name, str) else None


def require_moderator(conn: HTTPConnection) -> str:
    """The signed-in moderator, or a 401."""
    name = moderator_of(conn)
    if name is None:
        raise HTTPException(401, "sign in as a moderator first")
    return name


def require_change(request: Request) -> str:
    """The signed-in moderator of a state-changing request with its CSRF token, or 401/403."""
    name = require_moderator(request)
    expected = request.session.get(CSRF_KEY)
    sent = request.headers.get(CSRF_HEADER, "")
    if not isinstance(expected, str) or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise HTTPException(403, "expected the X-CSRF-Token header of this session "
                                 "(GET /api/me gives it), got a missing or wrong one")
    return name


LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "[::1]"})


def _loopback_alias(origin: str, public: str) -> bool:
    # localhost, 127.0.0.1 and [::1] name the same machine: a console opened under
    # any of them is the organiser's own browser, not another site.
    a, b = urlsplit(origin), urlsplit(public)
    host_a = (a.hostname or "").lower()
    host_b = (b.hostname or "").lower()
    names = {h if ":" not in h else f"[{h}]" for h in (host_a, host_b)}
    try:
        same_port = a.port == b.port
    except ValueError:  # a port that is not a number, or out of range
        return False
    return a.scheme == b.scheme and same_port and names <= LOOPBACK_NAMES


def same_site(origin: str, public: str) -> bool:
    """Whether a page of `origin` counts as a page of the public origin."""
    origin = origin.rstrip("/")
    return origin == public or _loopback_alias(origin, public)


def origin_allowed(conn: HTTPConnection) -> bool:
    """Whether a websocket handshake comes from a page of the public URL (or no browser)."""
    wall: Wall = conn.app.state.wall
    origin = conn.headers.get("origin")
    return origin is None or same_site(origin, wall.settings.public_origin)


def _throttle(request: Request) -> Throttle:
    wall: Wall = request.app.state.wall
    return wall.login_throttle


async def _credentials(request: Request) -> tuple[str, str]:
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            body = inputs.parse(await request.body())
        except ValueError as exc:
            raise HTTPException(400, f"{exc}: a JSON object with a password") from None
    else:
        body = dict(await request.form())
        if not inputs.encodable(body):
            raise HTTPException(400, inputs.NO_SURROGATES)
    if not isinstance(body, dict) or not isinstance(body.get("password"), str):
        raise HTTPException(400, "expected a password")
    name = body.get("name") or "moderator"
    try:
        return check_name(name if isinstance(name, str) else ""), body["password"]
    except ValueError as exc:
        raise HTTPException(400, f"moderator name: {exc}") from None


async def _check(request: Request, wall: Wall, name: str, password: str) -> str | None:
    accounts = sessions.accounts_of(request.app)
    if accounts is not None:
        # argon2 takes tens of milliseconds on purpose: keep the event loop free meanwhile.
        return await asyncio.to_thread(verify, accounts, name, password)
    if hmac.compare_digest(password.encode(), wall.password.encode()):
        return name
    return None


class Throttled(HTTPException):
    """429 with the wait in seconds, answered as `retry_after` and as Retry-After."""

    def __init__(self, wait: float) -> None:
        # Whole seconds, rounded up: a client that waits as told is not refused again.
        self.retry_after = math.ceil(wait)
        super().__init__(429, f"too many failed sign-ins; try again in {self.retry_after} s",
                         headers={"Retry-After": str(self.retry_after)})


def _too_many(wait: float) -> HTTPException:
    return Throttled(wait)


async def login(request: Request) -> JSONResponse:
    """Sign a moderator in; rotate the session and its CSRF token."""
    wall: Wall = request.app.state.wall
    throttle = _throttle(request)
    address = address_key(request.client.host if request.client else None)
    # Before the body is read: an address that keeps failing is not even parsed.
    wait = await throttle.retry_after(address)
    if wait > 0:
        raise _too_many(wait)
    name, password = await _credentials(request)
    # Failures count per address and per (address, account): guesses from elsewhere never
    # lock a moderator out, and one address cannot spread its guesses over many accounts.
    pair = f"{address}|account:{name.casefold()}"
    # Counted as a failure before the check, taken back on success: a burst of guesses
    # sent at once gets no more tries than guesses sent one after the other.
    wait, mark = await throttle.attempt(address, pair)
    if wait > 0:
        raise _too_many(wait)
    signed_in = await _check(request, wall, name, password)
    if signed_in is None:
        accounts = wall.settings.accounts_file is not None
        raise HTTPException(401, "wrong name or password" if accounts else "wrong password")
    await throttle.cancel(mark, address)
    await throttle.forget(pair)
    request.session.clear()
    csrf = secrets.token_urlsafe(32)
    request.session.update({SESSION_KEY: signed_in, CSRF_KEY: csrf,
                            "sid": secrets.token_urlsafe(16),
                            **await sessions.stamp(wall, sessions.accounts_of(request.app),
                                                   signed_in)})
    return JSONResponse({"moderator": signed_in, "csrf": csrf})


async def logout(request: Request) -> JSONResponse:
    """Sign the moderator out."""
    moderator = require_change(request)
    # Every session of this moderator ends, in every web process, not only this cookie.
    await sessions.revoke(request.app.state.wall, moderator)
    request.session.clear()
    return JSONResponse({"moderator": None})


async def whoami(request: Request) -> JSONResponse:
    """The signed-in moderator and the session's CSRF token, or nulls."""
    wall: Wall = request.app.state.wall
    name = moderator_of(request)
    csrf = request.session.get(CSRF_KEY) if name else None
    return JSONResponse({"moderator": name, "csrf": csrf,
                         "public_url": wall.settings.public_url,
                         "origin_ok": same_site(str(request.base_url),
                                                wall.settings.public_origin),
                         "accounts": wall.settings.accounts_file is not None})
