"""The audit log and what was shown, for moderators during the event and for the organiser after."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from moderation.post import Status
from moderation.queue import AuditEntry, QueueItem
from server.auth import require_moderator
from server.state import Wall

# Generous: a long event makes a few tens of thousands of entries.
EVERYTHING = 1_000_000
AUDIT_COLUMNS = ("at", "time", "actor", "action", "post_id", "before", "after", "rule",
                 "address")
POST_COLUMNS = ("id", "network", "kind", "author_handle", "author_name", "text", "created_at",
                "permalink", "approved_by", "rule", "approved_at")


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")


def _audit_row(entry: AuditEntry, sent: dict[str, dict[str, Any]] | None = None
               ) -> dict[str, Any]:
    row = {**entry.to_dict(), "time": _iso(entry.at)}
    record = (sent or {}).get(entry.post_id)
    if record is not None:  # a post sent from a phone: the address it came from
        row["address"] = record["address"]
    return row


async def _sent(wall: Wall, entries: list[AuditEntry]) -> dict[str, dict[str, Any]]:
    """The records of the posts sent from phones among the entries (moderators only)."""
    from server.sources.onsite.api import records_for

    return await records_for(wall, [entry.post_id for entry in entries])


def _post_row(item: QueueItem) -> dict[str, Any]:
    post = item.post
    return {"id": post.id, "network": post.network, "kind": post.kind.value,
            "author_handle": post.author.handle, "author_name": post.author.name,
            "text": post.text, "created_at": post.created_at, "permalink": post.permalink,
            "approved_by": item.decided_by, "rule": item.rule,
            "approved_at": _iso(item.updated_at)}


def _csv(columns: tuple[str, ...], rows: list[dict[str, Any]], filename: str) -> Response:
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        # A cell starting with = + - @ is a formula to spreadsheets: user text must stay text.
        writer.writerow({k: f"'{v}" if isinstance(v, str) and v[:1] in "=+-@\t\r" else v
                         for k, v in row.items()})
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="{filename}"'})


async def _everything(wall: Wall) -> tuple[list[AuditEntry], list[QueueItem]]:
    entries = list(reversed(await wall.store.audit(EVERYTHING)))
    approved = list(reversed(await wall.store.list_items(Status.APPROVED, EVERYTHING)))
    return entries, approved


async def audit(request: Request) -> JSONResponse:
    """GET /api/audit?limit=: the newest audit entries, newest first."""
    require_moderator(request)
    wall: Wall = request.app.state.wall
    value = request.query_params.get("limit", "100")
    if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= 5000:
        return JSONResponse({"error": "expected limit to be a whole number from 1 to 5000"},
                            status_code=400)
    entries = await wall.store.audit(int(value))
    sent = await _sent(wall, entries)
    return JSONResponse({"entries": [_audit_row(e, sent) for e in entries]})


async def export_json(request: Request) -> JSONResponse:
    """GET /api/export.json: every audit entry and every approved post, oldest first."""
    require_moderator(request)
    wall: Wall = request.app.state.wall
    entries, approved = await _everything(wall)
    sent = await _sent(wall, entries)
    return JSONResponse(
        {"exported_at": _iso(datetime.now(UTC).timestamp()),
         "audit": [_audit_row(e, sent) for e in entries],
         "submissions": sent,
         "approved": [{**item.to_dict(), "approved_at": _iso(item.updated_at)}
                      for item in approved]},
        headers={"content-disposition": 'attachment; filename="hashwall-export.json"'},
    )


async def export_audit_csv(request: Request) -> Response:
    """GET /api/export/audit.csv: the audit log, oldest first."""
    require_moderator(request)
    wall: Wall = request.app.state.wall
    entries, _ = await _everything(wall)
    sent = await _sent(wall, entries)
    return _csv(AUDIT_COLUMNS, [_audit_row(e, sent) for e in entries], "hashwall-audit.csv")


async def export_posts_csv(request: Request) -> Response:
    """GET /api/export/posts.csv: the approved posts, in approval order."""
    require_moderator(request)
    _, approved = await _everything(request.app.state.wall)
    return _csv(POST_COLUMNS, [_post_row(i) for i in approved], "hashwall-approved.csv")
