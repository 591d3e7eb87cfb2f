"""The audit log in the console and the exports after the event."""

from __future__ import annotations

import csv
import io

from tests.moderation_helpers import console, reply_to, send, wait_for
from tests.utils import RunningServer, make_post, moderator


async def test_audit_shows_who_decided_what_and_which_rule(server: RunningServer) -> None:
    """Rules' and moderators' decisions are in the audit, newest first, with the rule."""
    wall = server.wall
    await wall.pipeline.ingest(make_post(1, text="gagnez au casino"))
    await wall.pipeline.ingest(make_post(2, handle="trusted"))
    await wall.pipeline.ingest(make_post(3))
    async with moderator(server, "ana") as http:
        assert (await http.post("/api/posts/x:3/approve")).status_code == 200
        assert (await http.post("/api/posts/x:2/hide")).status_code == 200
        assert (await http.post("/api/posts/x:1/approve")).status_code == 200  # override
        entries = (await http.get("/api/audit?limit=6")).json()["entries"]
        assert (await http.get("/api/audit?limit=0")).status_code == 400
    summary = [(e["actor"], e["action"], e["post_id"], e["after"], e["rule"]) for e in entries]
    assert summary == [
        ("ana", "approve", "x:1", "approved", "blocked_word"),
        ("ana", "hide", "x:2", "hidden", "trusted_author"),
        ("ana", "approve", "x:3", "approved", None),
        ("rules", "submit", "x:3", "pending", None),
        ("rules", "submit", "x:2", "approved", "trusted_author"),
        ("rules", "submit", "x:1", "rejected", "blocked_word"),
    ]
    assert entries[0]["time"].endswith("+00:00")


async def test_console_snapshot_lists_recent_decisions(server: RunningServer) -> None:
    """A console that connects sees the recent decisions and the approved posts."""
    await server.wall.pipeline.ingest(make_post(1))
    async with console(server, "ana") as (ana, _):
        await send(ana, type="decide", id="x:1", action="approve", ref="a")
        await wait_for(ana, reply_to("a"))
    async with console(server, "ben") as (_, snapshot):
        assert snapshot["recent"][0]["actor"] == "ana"
        assert snapshot["recent"][0]["action"] == "approve"
        assert [i["post"]["id"] for i in snapshot["approved"]] == ["x:1"]
        assert snapshot["moderator"] == "ben" and snapshot["counts"]["approved"] == 1


async def test_exports_hold_the_audit_and_the_approved_posts(server: RunningServer) -> None:
    """JSON and CSV exports list every audit entry and every approved post, oldest first."""
    wall = server.wall
    await wall.pipeline.ingest(make_post(1, text="=HYPERLINK(\"http://evil\")", handle="trusted"))
    await wall.pipeline.ingest(make_post(2, text="Bravo à l'équipe, très belle édition"))
    async with moderator(server, "ana") as http:
        await http.post("/api/posts/x:2/approve")
        await http.post("/api/announce", json={"text": "Merci à tous !", "ref": "thanks"})
        data = (await http.get("/api/export.json")).json()
        audit_csv = await http.get("/api/export/audit.csv")
        posts_csv = await http.get("/api/export/posts.csv")
    assert [i["post"]["id"] for i in data["approved"]] == ["x:1", "x:2", "hashwall:thanks"]
    assert data["approved"][1]["decided_by"] == "ana"
    assert [e["action"] for e in data["audit"]][-2:] == ["submit", "announce"]
    assert audit_csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in posts_csv.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(posts_csv.text)))
    assert [r["id"] for r in rows] == ["x:1", "x:2", "hashwall:thanks"]
    assert rows[1]["text"] == "Bravo à l'équipe, très belle édition"
    assert rows[0]["text"].startswith("'=")  # never a formula in a spreadsheet
    audit_rows = list(csv.DictReader(io.StringIO(audit_csv.text)))
    assert len(audit_rows) == len(data["audit"]) and audit_rows[0]["actor"] == "settings"
