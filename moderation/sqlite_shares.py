"""The SQLite store's share counts: retweets counted toward their original."""

from __future__ import annotations

import time
from collections.abc import Sequence

from moderation.exceptions import UnknownPost
from moderation.post import Status
from moderation.shares import plan_share
from moderation.sqlite_controls import _Core, _Transaction


class SQLiteShares:
    """Mixed into `SQLiteStore`: each retweet id is counted once, in the `shares` table."""

    async def share(self: _Core, retweet_id: str, original_id: str) -> int:
        return (await SQLiteShares.share_many(self, [(retweet_id, original_id)]))[0]

    async def share_many(self: _Core, shares: Sequence[tuple[str, str]]) -> list[int]:
        touched: list[str] = []
        with _Transaction(self.db):
            counts = [_count(self, retweet_id, original_id, time.time(), touched)
                      for retweet_id, original_id in shares]
        self._signal(touched)
        return counts

    async def share_counts(self: _Core, post_ids: list[str]) -> dict[str, int]:
        counts: dict[str, int] = {}
        # One statement per 500 ids stays below SQLite's limit on bound parameters.
        for start in range(0, len(post_ids), 500):
            chunk = post_ids[start:start + 500]
            marks = ", ".join("?" * len(chunk))
            counts.update(self.db.execute(
                f"SELECT id, shares FROM posts WHERE shares > 0 AND id IN ({marks})", chunk,
            ).fetchall())
        return counts


def _count(store: _Core, retweet_id: str, original_id: str, now: float,
           touched: list[str]) -> int:
    """Count one retweet inside the caller's transaction; add the channels it wrote to."""
    counted = store.db.execute(
        "SELECT p.shares FROM shares s JOIN posts p ON p.id = s.original"
        " WHERE s.retweet = ?", (retweet_id,),
    ).fetchone()
    if counted is not None:
        return int(counted[0])
    row = store.db.execute(
        "SELECT status, shares FROM posts WHERE id = ?", (original_id,)
    ).fetchone()
    if row is None:
        raise UnknownPost(f"no post with id {original_id!r} in the queue to count "
                          f"retweet {retweet_id!r} toward")
    status, before = Status(row[0]), int(row[1])
    store.db.execute("INSERT INTO shares (retweet, original, at) VALUES (?, ?, ?)",
                    (retweet_id, original_id, now))
    store.db.execute("UPDATE posts SET shares = ? WHERE id = ?", (before + 1, original_id))
    for channel, type_, data in plan_share(original_id, status, before, before + 1):
        store._append(channel, type_, data, now)
        touched.append(channel)
    return before + 1
