"""HTTP endpoints of phones' posts: send, follow, withdraw, and the photos' URLs."""

from __future__ import annotations

import re
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from moderation.exceptions import DecisionConflict, UnknownPost
from moderation.post import Media, Status
from moderation.queue import Action, QueueItem
from server.auth import moderator_of
from server.sources.onsite import records
from server.sources.onsite.limits import Limit, SlowDown, address_key, check, spend
from server.sources.onsite.photo import FORMATS, NAMES, PhotoRefused
from server.sources.onsite.records import Record
from server.sources.onsite.source import OnsiteSource
from server.sources.onsite.submission import (
    NETWORK,
    SubmissionRefused,
    check_key,
    check_text,
    device_author,
    make_post,
    submission_id,
)
from server.sources.onsite.upload import Part, may_be_large, read_form
from server.state import Wall

DEVICE_COOKIE = "hashwall_device"
DEVICE = re.compile(r"[A-Za-z0-9_-]{16,64}")
PHOTO_NAME = re.compile(r"[0-9a-f]{32}")
# Who a withdrawal is recorded as, in the audit log (not a moderator name: it has a colon).
SENDER = "onsite:sender"
STATES = {Status.PENDING: "waiting", Status.APPROVED: "shown",
          Status.REJECTED: "not_shown", Status.HIDDEN: "not_shown"}


def _wall(request: Request) -> Wall:
    wall: Wall = request.app.state.wall
    return wall


def _source(request: Request) -> OnsiteSource:
    for source in _wall(request).sources:
        if isinstance(source, OnsiteSource):
            return source
    raise HTTPException(404, "posting from phones is off here (HASHWALL_ONSITE_POSTS)")


def _refusal(exc: SubmissionRefused | PhotoRefused | SlowDown) -> JSONResponse:
    if isinstance(exc, SlowDown):
        return JSONResponse({"error": str(exc), "code": "slow_down", "retry_after": exc.wait},
                            status_code=429, headers={"Retry-After": str(exc.wait)})
    status = exc.status if isinstance(exc, SubmissionRefused) else 400
    return JSONResponse({"error": str(exc), "code": exc.code}, status_code=status)


def _state(item: QueueItem | None, record: Record | None) -> str:
    if record is not None and record.withdrawn:
        return "withdrawn"
    return "waiting" if item is None else STATES[item.status]


def _device(request: Request) -> tuple[str, bool]:
    """The device id from its cookie, or a new one (True: set the cookie)."""
    device = request.cookies.get(DEVICE_COOKIE, "")
    if DEVICE.fullmatch(device):
        return device, False
    return secrets.token_urlsafe(18), True


def _answer(source: OnsiteSource, post_id: str, state: str, repeat: bool,
            device: str | None = None, secure: bool = False) -> JSONResponse:
    body = {"id": post_id, "token": records.token_for(source.secret, post_id), "state": state,
            **({"repeat": True} if repeat else {})}
    response = JSONResponse(body, status_code=202)
    if device is not None:
        response.set_cookie(DEVICE_COOKIE, device, max_age=400 * 86_400, httponly=True,
                            samesite="strict", secure=secure)
    return response


async def _existing(source: OnsiteSource, post_id: str) -> tuple[QueueItem, Record | None] | None:
    item = await source.store.get(post_id)
    if item is None:
        return None
    return item, await records.load_record(source.store, post_id)


def _limits(request: Request, device: str, address: str, kind: str) -> list[Limit]:
    settings = _wall(request).settings
    window = settings.onsite_limit_minutes * 60
    if kind == "photos":
        return [Limit(kind, f"device:{device}", settings.onsite_device_photos, window),
                Limit(kind, f"address:{address}", settings.onsite_address_photos, window)]
    return [Limit(kind, f"device:{device}", settings.onsite_device_posts, window),
            Limit(kind, f"address:{address}", settings.onsite_address_posts, window)]


def _photo_part(form: dict[str, Part]) -> Part | None:
    part = form.get("photo")
    # A form whose file input was left empty still sends the part, with no file name.
    if part is None or (not part.filename and not part.data):
        return None
    if not part.data:
        raise SubmissionRefused("photo: expected an image, got an empty file")
    return part


async def status(request: Request) -> JSONResponse:
    """GET /api/submissions: whether phones may post now, and the limits of a post."""
    settings = _wall(request).settings
    try:
        _source(request)
    except HTTPException:
        return JSONResponse({"enabled": False, "open": False})
    closed = await records.is_closed(_wall(request).store)
    return JSONResponse({
        "enabled": True, "open": not closed, "max_chars": settings.onsite_max_chars,
        "max_name_chars": settings.onsite_max_name_chars,
        "max_photo_bytes": settings.onsite_max_photo_bytes,
        "photo_types": [NAMES[f] for f in FORMATS],
    }, headers={"cache-control": "no-cache"})


async def submit(request: Request) -> Response:
    """POST /api/submissions: queue a post sent from a phone; 202 with its id and token."""
    source = _source(request)
    try:
        return await _submit(request, source)
    except (SubmissionRefused, PhotoRefused, SlowDown) as exc:
        source.refused += 1
        return _refusal(exc)


async def _submit(request: Request, source: OnsiteSource) -> Response:
    wall = _wall(request)
    settings, store = wall.settings, wall.store
    secure = settings.public_url.startswith("https://")
    device, new_device = _device(request)
    set_device = device if new_device else None
    header_key = request.headers.get("idempotency-key")
    if header_key is not None:
        key = check_key(header_key)
        # A retry of a post already queued is answered without reading the body again.
        found = await _existing(source, submission_id(key))
        if found is not None:
            return _answer(source, found[0].post.id, _state(*found), True, set_device, secure)
    if await records.is_closed(store):
        raise SubmissionRefused("posting to the wall is closed for now", 403, "closed")
    address = address_key(request.client.host if request.client else None)
    now = time.time()
    post_limits = _limits(request, device, address, "posts")
    await check(store, post_limits, now)
    if not may_be_large(request):  # a text alone: read at once, nothing to wait for
        form = await read_form(request, settings.onsite_max_photo_bytes)
        return await _accept(request, source, form, header_key, device, set_device, address,
                             post_limits, now)
    async with source.uploads:
        form = await read_form(request, settings.onsite_max_photo_bytes)
        return await _accept(request, source, form, header_key, device, set_device, address,
                             post_limits, now)


async def _accept(request: Request, source: OnsiteSource, form: dict[str, Part],
                  header_key: str | None, device: str, set_device: str | None, address: str,
                  post_limits: list[Limit], now: float) -> Response:
    """The rest of a submission once its body is read: checks, photo, record, queue."""
    wall = _wall(request)
    settings, store = wall.settings, wall.store
    secure = settings.public_url.startswith("https://")
    key = header_key or ""
    if not key:
        field = form.get("idempotency_key")
        key = check_key(field.text() if field is not None else None)
        found = await _existing(source, submission_id(key))
        if found is not None:
            return _answer(source, found[0].post.id, _state(*found), True, set_device, secure)
    name_part, text_part = form.get("name"), form.get("text")
    name = check_text(name_part.text() if name_part else None, "name",
                      settings.onsite_max_name_chars, lines=False)
    text = check_text(text_part.text() if text_part else None, "text",
                      settings.onsite_max_chars, lines=True)
    photo_part = _photo_part(form)
    photo_limits = _limits(request, device, address, "photos") if photo_part else []
    await spend(store, post_limits + photo_limits, now)
    post_id = submission_id(key)
    media: Media | None = None
    photo_name: str | None = None
    if photo_part is not None:
        photo = await source.reencode(bytes(photo_part.data), photo_part.content_type,
                                      photo_part.filename or "")
        photo_part.data.clear()  # the original bytes go no further
        photo_name = records.photo_name(source.secret, post_id)
        await records.save_photo(store, photo_name, post_id, photo.data)
        media = Media(type="photo", url=f"/photos/{photo_name}.jpg", width=photo.width,
                      height=photo.height)
    record = Record(post_id, address, device, now, photo_name)
    await records.save_record(store, record)
    created_at = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    post = make_post(key, device_author(device, name), text, created_at, media)
    item = await source.offer(post)
    return _answer(source, post_id, _state(item, record), False, set_device, secure)


async def _owned(request: Request) -> tuple[OnsiteSource, str, QueueItem | None, Record]:
    """The source, post id, item and record of a request carrying the post's token."""
    source = _source(request)
    post_id = request.path_params["post_id"]
    if not post_id.startswith(f"{NETWORK}:"):
        post_id = f"{NETWORK}:{post_id}"
    auth = request.headers.get("authorization", "")
    token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
    if not token or not records.token_ok(source.secret, post_id, token):
        raise HTTPException(403, "expected the post's token (Authorization: Bearer …) as "
                                 "POST /api/submissions answered it, got a missing or wrong one")
    record = await records.load_record(source.store, post_id)
    if record is None:
        raise HTTPException(404, f"no post {post_id} was sent from a phone")
    return source, post_id, await source.store.get(post_id), record


async def follow(request: Request) -> JSONResponse:
    """GET /api/submissions/{id}: the state of a post, for the device that sent it."""
    _, post_id, item, record = await _owned(request)
    return JSONResponse({"id": post_id, "state": _state(item, record)},
                        headers={"cache-control": "no-store"})


async def withdraw(request: Request) -> JSONResponse:
    """DELETE /api/submissions/{id} (or POST …/withdraw): take back a post still waiting."""
    source, post_id, item, record = await _owned(request)
    if record.withdrawn:
        return JSONResponse({"id": post_id, "state": "withdrawn", "repeat": True})
    if item is None:
        raise HTTPException(409, "the post is not in the queue yet; try again in a moment",
                            headers={"Retry-After": "1"})
    try:
        await source.store.decide(post_id, Action.REJECT, SENDER, Status.PENDING)
    except (DecisionConflict, UnknownPost):
        now = await source.store.get(post_id)
        state = _state(now, record)
        return JSONResponse({"error": f"the post can no longer be withdrawn: it is {state}",
                             "id": post_id, "state": state}, status_code=409)
    await records.save_record(source.store, Record(**{**record.to_dict(), "withdrawn": True}))
    if record.photo:
        await records.drop_photo(source.store, record.photo)
    return JSONResponse({"id": post_id, "state": "withdrawn"})


async def photo(request: Request) -> Response:
    """GET /photos/{name}.jpg: a phone's photo, once its post is approved (moderators: any)."""
    name = request.path_params["name"]
    missing = HTTPException(404, "no such photo")
    if not PHOTO_NAME.fullmatch(name):
        raise missing
    wall = _wall(request)
    found = await records.load_photo(wall.store, name)
    if found is None:
        raise missing
    post_id, data = found
    if moderator_of(request) is None:
        item = await wall.store.get(post_id)
        if item is None or item.status is not Status.APPROVED:
            raise missing  # the same answer as for a name that does not exist
    return Response(data, media_type="image/jpeg",
                    headers={"cache-control": "private, no-cache",
                             "content-disposition": "inline"})


async def records_for(wall: Wall, post_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The records of those of `post_ids` sent from phones, for moderators only."""
    found = {}
    for post_id in dict.fromkeys(post_ids):
        if post_id.startswith(f"{NETWORK}:"):
            record = await records.load_record(wall.store, post_id)
            if record is not None:
                found[post_id] = record.to_dict()
    return found


def routes() -> list[Route]:
    """The routes of phones' posts; before the moderator commands' `/api/{command}`."""
    return [
        Route("/api/submissions", status, methods=["GET"]),
        Route("/api/submissions", submit, methods=["POST"]),
        Route("/api/submissions/{post_id}", follow, methods=["GET"]),
        Route("/api/submissions/{post_id}", withdraw, methods=["DELETE"]),
        Route("/api/submissions/{post_id}/withdraw", withdraw, methods=["POST"]),
        Route("/photos/{name}.jpg", photo, methods=["GET"]),
    ]
