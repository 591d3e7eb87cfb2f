"""Every statement the SQLite store runs finds its rows through an index, so that an approval
costs the same on the third day of an event as in its first minute."""

from __future__ import annotations

import re
from pathlib import Path

from moderation.post import Status
from moderation.queue import CHANNELS, Action, Verdict
from moderation.stores.sqlite import SQLiteStore
from moderation.wall_state import Mode
from tests.store_ops import apply
from tests.utils import make_post


async def test_no_statement_walks_or_sorts_a_whole_table(tmp_path: Path) -> None:
    """Queueing, decisions, edits, undo, pins, claims, shares, lists, snapshots and paging."""
    store = SQLiteStore(f"sqlite:///{tmp_path / 'plans.sqlite3'}")
    await store.open()
    statements: set[str] = set()
    store.db.set_trace_callback(statements.add)
    await store.submit_many([(make_post(n), Verdict(Status.PENDING)) for n in range(1, 30)])
    for op in [
        *[("decide", n, Action.APPROVE, "ana", f"r{n}") for n in range(1, 12)],
        ("decide", 12, Action.REJECT, "ben", None), ("decide", 2, Action.HIDE, "ben", None),
        ("undo", "ana", None), ("pin", 3, "ana"), ("unpin", "ana"),
        ("claim", "ben", 3, 0), ("release", "ben"), ("expire", 5),
        ("share", 1, 4), ("shares", [(2, 4), (3, 5)]), ("pause", True), ("pause", False),
        ("mode", Mode.POST), ("announce", 1), ("rules", 1),
        ("batch", [("submit", 40, 0, None), ("submit", 41, 1, 40)]), ("decide", 41, Action.HIDE,
                                                                      "ana", None),
        ("submit", 42, 0, 41), ("decide", 42, Action.APPROVE, "ana", None),
    ]:
        await apply(store, op)
    for status in Status:
        await store.list_items(status, 50)
    await store.snapshot(50)
    await store.approved_before("x:5", 10)
    await store.audit(100)
    for channel in CHANNELS:
        await store.events_after(channel, 3)
    await store.share_counts(["x:1", "x:2"])
    await store.get_many(["x:1", "x:2"])
    store.db.set_trace_callback(None)

    walks = {}
    for statement in statements:
        if not re.match(r"\s*(SELECT|UPDATE|DELETE)\b", statement, re.IGNORECASE):
            continue
        plan = " | ".join(row[3] for row in store.db.execute(f"EXPLAIN QUERY PLAN {statement}"))
        # Reading the audit log newest first walks its rowids backwards up to the LIMIT.
        if "TEMP B-TREE" in plan or ("SCAN" in plan and "FROM audit ORDER BY n DESC" not in
                                     statement) or ("root =" in statement and
                                                    "posts_root" not in plan):
            walks[" ".join(statement.split())[:160]] = plan
    await store.close()
    assert len(statements) > 40
    assert walks == {}
