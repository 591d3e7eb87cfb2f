"""Moderator login by password, kept in a signed session cookie."""

from __future__ import annotations

import hmac

from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse

from server.state import Wall

SESSION_KEY = "moderator"


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


async def _credentials(request: Request) -> tuple[str, str]:
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            body = await request.json()
        except ValueError:
            raise HTTPException(400, "expected a JSON object with a password") from None
    else:
        body = dict(await request.form())
    if not isinstance(body, dict) or not isinstance(body.get("password"), str):
        raise HTTPException(400, "expected a password")
    name = body.get("name") or "moderator"
    if not isinstance(name, str) or not name.strip() or len(name) > 64:
        raise HTTPException(400, "expected a moderator name of 1 to 64 characters")
    return name.strip(), body["password"]


async def login(request: Request) -> JSONResponse:
    """Sign a moderator in with the shared password."""
    wall: Wall = request.app.state.wall
    name, password = await _credentials(request)
    if not hmac.compare_digest(password.encode(), wall.password.encode()):
        raise HTTPException(401, "wrong password")
    request.session.clear()
    request.session[SESSION_KEY] = name
    return JSONResponse({"moderator": name})


async def logout(request: Request) -> JSONResponse:
    """Sign the moderator out."""
    request.session.clear()
    return JSONResponse({"moderator": None})


async def whoami(request: Request) -> JSONResponse:
    """The signed-in moderator, or null."""
    return JSONResponse({"moderator": moderator_of(request)})
