"""The Redis store's key names and how one post's hash reads back as a queue item."""

from __future__ import annotations

from dataclasses import dataclass

from moderation import jsoncodec
from moderation.post import Post, Status
from moderation.queue import QueueItem

Value = str | dict[str, str] | dict[str, int]

# The hash fields of one post, in the order `Record.parse` reads them.
FIELDS = ("data", "status", "rule", "reason", "decided_by", "received_at", "updated_at",
          "claimed_by", "claim_until", "root", "n", "v", "op", "shares")


class Keys:
    """The names of every key the store uses, under one prefix."""

    def __init__(self, prefix: str = "hashwall:") -> None:
        self.prefix = prefix
        self.post_prefix = f"{prefix}post:"
        self.group_prefix = f"{prefix}group:"
        self.inserted = f"{prefix}inserted"  # counter: insertion order of posts
        self.updates = f"{prefix}updates"  # counter: order of status changes
        self.shown = f"{prefix}shown"  # approved posts by the seq that showed them
        self.audit = f"{prefix}audit"
        self.wall = f"{prefix}wall"  # the switches: mode, paused, pinned
        self.rules = f"{prefix}rules"
        self.shares = f"{prefix}shares"  # retweet id -> the post it was counted toward
        self.cursors = f"{prefix}cursors"  # "source\x1fkey" -> a source's resume point
        self.epoch = f"{prefix}epoch"  # the id of the event logs (Store.epoch)

    def post(self, post_id: str) -> str:
        return f"{self.post_prefix}{post_id}"

    def status(self, status: Status) -> str:
        return f"{self.prefix}status:{status.value}"

    def group(self, root: str) -> str:
        return f"{self.group_prefix}{root}"

    def events(self, channel: str) -> str:
        return f"{self.prefix}events:{channel}"

    def seq(self, channel: str) -> str:
        return f"{self.prefix}seq:{channel}"

    def refs(self, moderator: str) -> str:
        """The outcomes of a moderator's decisions by client ref."""
        return f"{self.prefix}refs:{moderator}"

    def counter(self, name: str) -> str:
        return f"{self.prefix}counter:{name}"

    def undo(self, moderator: str) -> str:
        """A moderator's decisions not undone yet, newest first."""
        return f"{self.prefix}undo:{moderator}"


@dataclass(slots=True)
class Record:
    """A queue item as Redis holds it, with the bookkeeping the guards check."""

    item: QueueItem
    root: str
    n: Value
    version: int
    op: str | None = None

    @classmethod
    def parse(cls, values: list[str | None]) -> Record | None:
        """A record from the FIELDS of a post hash, or None when the post does not exist."""
        row = dict(zip(FIELDS, values, strict=True))
        if row["data"] is None or row["status"] is None:
            return None
        item = QueueItem(
            post=Post.from_dict(jsoncodec.loads(row["data"])),
            status=Status(row["status"]),
            rule=row["rule"],
            reason=row["reason"],
            decided_by=row["decided_by"],
            received_at=float(row["received_at"] or 0),
            updated_at=float(row["updated_at"] or 0),
            claimed_by=row["claimed_by"],
            claim_until=float(row["claim_until"]) if row["claim_until"] else None,
            shares=int(row["shares"] or 0),
        )
        return cls(item, row["root"] or item.post.id, row["n"] or "0", int(row["v"] or 0),
                   row["op"])
