"""One atomic change to the Redis store, built in Python and applied by the APPLY script."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from moderation import jsoncodec
from moderation.post import Post, Status
from moderation.queue import MODERATION, PUBLIC, QueueItem, screen_events, unpin_events
from moderation.shares import screen_shares

Value = str | dict[str, str] | dict[str, int]
# The first ARGV of the APPLY script that holds a long value (after the program and the
# length of the event streams).
ARGS_FROM = 3

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


@dataclass
class Changes:
    """Guards on what was read, then the writes, in the order a SQLite transaction makes them."""

    keys: Keys
    now: float
    token: str
    pinned: str | None = None  # the pinned post as read; set_status unpins it on leaving
    guards: list[list[str | None]] = field(default_factory=list)
    ops: list[list[Any]] = field(default_factory=list)
    # Long values (posts, events, audit entries) travel beside the program, not inside it,
    # so that they are neither escaped into its JSON nor decoded from it.
    args: list[str] = field(default_factory=list)
    _refs: int = 0

    def _arg(self, value: str) -> dict[str, int]:
        self.args.append(value)
        return {"arg": len(self.args) + ARGS_FROM - 1}

    def _ref(self, op: str, key: str) -> dict[str, str]:
        self._refs += 1
        name = f"r{self._refs}"
        self.ops.append([op, key, name])
        return {"ref": name}

    def require(self, record: Record) -> None:
        """Apply only if this post has not changed since it was read."""
        self.guards.append(["field", self.keys.post(record.item.post.id), "v",
                            str(record.version)])

    def require_absent(self, post_id: str) -> None:
        """Apply only if no post with this id exists."""
        self.guards.append(["absent", self.keys.post(post_id)])

    def require_group(self, root: str, size: int) -> None:
        """Apply only if no version of this post arrived since it was read."""
        self.guards.append(["zcard", self.keys.group(root), str(size)])

    def require_field(self, key: str, name: str, value: str | None) -> None:
        """Apply only if a hash field still holds `value` (None: still absent)."""
        self.guards.append(["field", key, name, value])

    def require_head(self, key: str, value: str | None) -> None:
        """Apply only if a list still starts with `value` (None: still empty)."""
        self.guards.append(["head", key, value])

    def write(self, *op: Any) -> None:
        """One plain write: hset, hdel, set, lpush, lpop, zadd, zrem or xadd."""
        self.ops.append(list(op))

    def both(self, type_: str, data: dict[str, Any]) -> None:
        """Append one event to the public and the moderation channel."""
        self.event(PUBLIC, type_, data)
        self.event(MODERATION, type_, data)

    def event(self, channel: str, type_: str, data: dict[str, Any]) -> dict[str, str]:
        """Append an event; return the reference of its sequence number."""
        self._refs += 1
        name = f"r{self._refs}"
        self.ops.append(["event", self.keys.events(channel), self.keys.seq(channel), name,
                         type_, self._arg(jsoncodec.dumps(data)),
                         repr(self.now)])
        return {"ref": name}

    def audit(self, actor: str, action: str, post_id: str, before: Status | str | None,
              after: Status | str, rule: str | None) -> str:
        """Append an audit entry; return it as stored."""
        entry = jsoncodec.dumps({"at": self.now, "actor": actor, "action": action,
                            "post_id": post_id, "before": str(before) if before else None,
                            "after": str(after), "rule": rule})
        self.ops.append(["xadd", self.keys.audit, "entry", self._arg(entry)])
        return entry

    def insert(self, item: QueueItem, root: str) -> Record:
        """Add a new pending item (received now) to the queue and to its root's versions."""
        key = self.keys.post(item.post.id)
        n = self._ref("incr", self.keys.inserted)
        fields: dict[str, Value] = {
            "data": self._arg(jsoncodec.dumps(item.post.to_dict())),
            "status": Status.PENDING.value, "received_at": repr(self.now),
            "updated_at": repr(self.now), "root": root, "n": n, "v": "1", "op": self.token,
        }
        fields.update({k: v for k, v in (("rule", item.rule), ("reason", item.reason))
                       if v is not None})
        self.ops.append(["hset", key, fields])
        self.ops.append(["zadd", self.keys.group(root), n, item.post.id])
        self.ops.append(["zadd", self.keys.status(Status.PENDING), n, item.post.id])
        return Record(item, root, n, 1, self.token)

    def update(self, record: Record, fields: dict[str, Value]) -> None:
        """Write some fields of a post as a new version, so that racing changes read again."""
        record.version += 1
        self.ops.append(["hset", self.keys.post(record.item.post.id),
                         {**fields, "v": str(record.version), "op": self.token}])

    def set_status(self, record: Record, after: Status, actor: str, rule: str | None = None,
                   reason: str | None = None) -> None:
        """Change a post's status with its public events, like SQLiteStore._set_status."""
        item, post_id = record.item, record.item.post.id
        before = item.status
        shown: dict[str, str] | None = None
        for type_, data in screen_events(item.post, before, after, screen_shares(item.shares)):
            ref = self.event(PUBLIC, type_, data)
            if type_ == "post.shown":
                shown = ref
        for type_, data in unpin_events(post_id, after, self.pinned):
            self.pinned = None
            self.ops.append(["hdel", self.keys.wall, "pinned"])
            self.both(type_, {**data, "moderator": actor})
        if after is not Status.PENDING and item.claimed_by is not None:
            self.ops.append(["hdel", self.keys.post(post_id), "claimed_by", "claim_until"])
            item.claimed_by = item.claim_until = None
        record.version += 1
        fields: dict[str, Value] = {"status": after.value, "decided_by": actor,
                                    "updated_at": repr(self.now), "v": str(record.version),
                                    "op": self.token}
        if rule is not None:
            fields["rule"] = rule
            item.rule = rule
        if reason is not None:
            fields["reason"] = reason
            item.reason = reason
        if shown is not None:
            fields["shown_seq"] = shown
            self.ops.append(["zadd", self.keys.shown, shown, post_id])
        elif before is Status.APPROVED and after is not Status.APPROVED:
            self.ops.append(["zrem", self.keys.shown, post_id])
        self.ops.append(["hset", self.keys.post(post_id), fields])
        self.ops.append(["zrem", self.keys.status(before), post_id])
        score = record.n if after is Status.PENDING else self._ref("incr", self.keys.updates)
        self.ops.append(["zadd", self.keys.status(after), score, post_id])
        item.status, item.decided_by, item.updated_at = after, actor, self.now

    def program(self) -> str:
        """The JSON program APPLY runs."""
        return jsoncodec.dumps({"guards": self.guards, "ops": self.ops})
