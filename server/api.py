"""HTTP endpoints: posts, moderator commands, rules and health."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from moderation.exceptions import DecisionConflict, InvalidAction, InvalidRules, UnknownPost
from moderation.post import Status
from moderation.ruleset_config import rules_to_dict
from moderation.shares import screen_counts
from moderation.wire import MessageType
from server import commands, inputs
from server.auth import require_change, require_moderator
from server.commands import COMMANDS
from server.state import Wall

HEALTH_TIMEOUT = 0.8
# ASCII digits only: str.isdigit() also accepts '²', which int() refuses.
DIGITS = re.compile(r"[0-9]{1,9}")


def _wall(request: Request) -> Wall:
    wall: Wall = request.app.state.wall
    return wall


def _status(value: str) -> Status:
    try:
        return Status(value)
    except ValueError:
        names = ", ".join(s.value for s in Status)
        raise HTTPException(400, f"expected status to be one of {names}, got {value!r}") from None


def _limit(value: str | None, default: int = 50, most: int = 500) -> int:
    if value is None:
        return default
    if not DIGITS.fullmatch(value) or not 1 <= int(value) <= most:
        raise HTTPException(400, f"expected limit to be a whole number from 1 to {most}")
    return int(value)


async def list_posts(request: Request) -> JSONResponse:
    """Posts by status; approved is public, other statuses need a moderator."""
    wall = _wall(request)
    status = _status(request.query_params.get("status", Status.APPROVED.value))
    limit = _limit(request.query_params.get("limit"))
    before = request.query_params.get("before")
    if before is not None and status is not Status.APPROVED:
        raise HTTPException(400, f"expected before= with status=approved only, got {status}")
    if before is not None:
        try:
            older = await wall.store.approved_before(before, limit)
        except UnknownPost as exc:
            raise HTTPException(400, f"expected before= to name a shown post: {exc}") from None
        counts = screen_counts(await wall.store.share_counts([p.id for p in older]))
        return JSONResponse({"posts": [p.to_dict() for p in older], "shares": counts})
    if status is Status.APPROVED:
        snap = await wall.store.snapshot(limit)
        return JSONResponse({"seq": snap.seq, "posts": [p.to_dict() for p in snap.posts],
                             "shares": snap.shares})
    require_moderator(request)
    after = request.query_params.get("after")
    if after is not None and status is not Status.PENDING:
        raise HTTPException(400, f"expected after= with status=pending only, got {status}")
    if after is not None:
        try:
            items = await wall.store.pending_after(after, limit)
        except UnknownPost as exc:
            raise HTTPException(400, f"expected after= to name a queued post: {exc}") from None
    else:
        items = await wall.store.list_items(status, limit)
    body: dict[str, Any] = {"items": [item.to_dict() for item in items]}
    if status is Status.PENDING:
        # The cursor of the next page; null once this page is the end of the queue.
        body["next"] = items[-1].post.id if len(items) == limit else None
    return JSONResponse(body)


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        body = inputs.parse(raw)
    except ValueError as exc:
        raise HTTPException(400, f"{exc}: a JSON object or an empty body") from None
    if not isinstance(body, dict):
        raise HTTPException(400, "expected a JSON object or an empty body")
    return body


async def _run(request: Request, name: str, **fields: Any) -> JSONResponse:
    """Run one moderator command for a state-changing request, with its CSRF token."""
    moderator = require_change(request)
    message = {**await _body(request), **fields, "type": name}
    try:
        result = await commands.run(_wall(request), moderator, message)
    except (InvalidAction, InvalidRules) as exc:
        raise HTTPException(400, str(exc)) from None
    except UnknownPost as exc:
        raise HTTPException(404, str(exc)) from None
    except DecisionConflict as exc:
        raise HTTPException(409, str(exc)) from None
    return JSONResponse(result)


async def decide(request: Request) -> JSONResponse:
    """POST /api/posts/{id}/{action}: approve, reject, hide or pin a post."""
    post_id, action = request.path_params["post_id"], request.path_params["action"]
    if action == MessageType.PIN:
        return await _run(request, MessageType.PIN, id=post_id)
    return await _run(request, MessageType.DECIDE, id=post_id, action=action)


async def command(request: Request) -> JSONResponse:
    """POST /api/{undo|unpin|announce|pause|resume|mode|claim|release} and PUT /api/rules."""
    name = request.path_params.get("command", MessageType.RULES)
    if name not in COMMANDS or name == MessageType.DECIDE:
        raise HTTPException(404, f"no command {name!r}")
    if name == MessageType.RULES:
        require_change(request)  # before the body is read: strangers' bodies are not parsed
        return await _run(request, MessageType.RULES, rules=await _body(request))
    return await _run(request, name)


async def rules(request: Request) -> JSONResponse:
    """GET /api/rules: the rules in force, for moderators."""
    require_moderator(request)
    return JSONResponse({"rules": rules_to_dict(await _wall(request).pipeline.current_rules())})


async def healthz(request: Request) -> JSONResponse:
    """The state of the store and of each source; 503 when something is failing."""
    wall = _wall(request)
    try:
        # Whatever the store does, a health check answers within a second.
        store = await asyncio.wait_for(wall.store.health(), HEALTH_TIMEOUT)
    except TimeoutError:
        store = {"ok": False, "error": f"the store did not answer within {HEALTH_TIMEOUT} s"}
    sources = {source.name: source.health() for source in wall.sources}
    ok = bool(store.get("ok")) and all(s.get("ok", True) for s in sources.values())
    body = {
        "ok": ok,
        "store": store,
        "sources": sources,
        "clients": {"public": len(wall.public.clients), "moderation": len(wall.moderation.clients)},
        "dropped_slow_clients": wall.public.dropped_total + wall.moderation.dropped_total,
    }
    return JSONResponse(body, status_code=200 if ok else 503,
                        headers=None if ok else {"Retry-After": "1"})
