"""A `ChangeSet` turned into the program the APPLY script runs, with the guards that make
it apply only if what it was planned on has not changed."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from moderation import jsoncodec
from moderation.changes import (
    Append,
    Audit,
    ChangeSet,
    CountShare,
    Insert,
    Remember,
    SetClaim,
    SetDecider,
    SetStatus,
    SetWall,
    Undone,
)
from moderation.post import Status
from moderation.queue import QueueItem
from moderation.stores.redis.keys import Keys, Record, Value

# The first ARGV of the APPLY script that holds a long value (after the program and the
# length of the event streams).
ARGS_FROM = 3


@dataclass
class Program:
    """Guards on what was read, then the writes of one change, for the APPLY script."""

    keys: Keys
    token: str  # written on every post the change touches, to recognise its own work
    guards: list[list[str | None]] = field(default_factory=list)
    ops: list[list[Any]] = field(default_factory=list)
    # Long values (posts, events, audit entries) travel beside the program, not inside it,
    # so that they are neither escaped into its JSON nor decoded from it.
    args: list[str] = field(default_factory=list)
    _refs: int = 0

    def require(self, record: Record) -> None:
        """Apply only if this post has not changed since it was read."""
        self.guards.append(["field", self.keys.post(record.item.post.id), "v",
                            str(record.version)])

    def require_absent(self, post_id: str) -> None:
        """Apply only if no post with this id exists."""
        self.guards.append(["absent", self.keys.post(post_id)])

    def require_group(self, root: str, size: int, versions: list[Record]) -> None:
        """Apply only if a post still has `size` versions and `versions` are unchanged."""
        self.guards.append(["zcard", self.keys.group(root), str(size)])
        for record in versions:
            self.require(record)

    def require_field(self, key: str, name: str, value: str | None) -> None:
        """Apply only if a hash field still holds `value` (None: still absent)."""
        self.guards.append(["field", key, name, value])

    def require_head(self, key: str, value: str | None) -> None:
        """Apply only if a list still starts with `value` (None: still empty)."""
        self.guards.append(["head", key, value])

    def text(self) -> str:
        """The JSON program APPLY runs."""
        return jsoncodec.dumps({"guards": self.guards, "ops": self.ops})

    def _arg(self, value: str) -> dict[str, int]:
        self.args.append(value)
        return {"arg": len(self.args) + ARGS_FROM - 1}

    def _ref(self, op: str, key: str) -> dict[str, str]:
        self._refs += 1
        name = f"r{self._refs}"
        self.ops.append([op, key, name])
        return {"ref": name}

    def _event(self, op: Append) -> dict[str, str]:
        self._refs += 1
        name = f"r{self._refs}"
        self.ops.append(["event", self.keys.events(op.channel), self.keys.seq(op.channel), name,
                         op.type, self._arg(jsoncodec.dumps(op.data)), repr(op.at)])
        return {"ref": name}

    def _update(self, record: Record, fields: dict[str, Value]) -> None:
        """Write some fields of a post as a new version, so that racing changes read again."""
        record.version += 1
        self.ops.append(["hset", self.keys.post(record.item.post.id),
                         {**fields, "v": str(record.version), "op": self.token}])

    def _insert(self, op: Insert) -> Record:
        post_id, root = op.post.id, op.root
        n = self._ref("incr", self.keys.inserted)
        fields: dict[str, Value] = {
            "data": self._arg(jsoncodec.dumps(op.data)),
            "status": Status.PENDING.value, "received_at": repr(op.at),
            "updated_at": repr(op.at), "root": root, "n": n, "v": "1", "op": self.token,
        }
        fields.update({k: v for k, v in (("rule", op.rule), ("reason", op.reason))
                       if v is not None})
        self.ops.append(["hset", self.keys.post(post_id), fields])
        self.ops.append(["zadd", self.keys.group(root), n, post_id])
        self.ops.append(["zadd", self.keys.status(Status.PENDING), n, post_id])
        item = QueueItem(post=op.post, status=Status.PENDING, rule=op.rule, reason=op.reason,
                         received_at=op.at, updated_at=op.at)
        return Record(item, root, n, 1, self.token)

    def _set_status(self, op: SetStatus, record: Record, shown: dict[str, str] | None) -> None:
        post_id = op.post_id
        if op.after is not Status.PENDING:
            self.ops.append(["hdel", self.keys.post(post_id), "claimed_by", "claim_until"])
        fields: dict[str, Value] = {"status": op.after.value, "decided_by": op.actor,
                                    "updated_at": repr(op.at)}
        if op.rule is not None:
            fields["rule"] = op.rule
        if op.reason is not None:
            fields["reason"] = op.reason
        if shown is not None:
            fields["shown_seq"] = shown
            self.ops.append(["zadd", self.keys.shown, shown, post_id])
        elif op.before is Status.APPROVED and op.after is not Status.APPROVED:
            self.ops.append(["zrem", self.keys.shown, post_id])
        self._update(record, fields)
        self.ops.append(["zrem", self.keys.status(op.before), post_id])
        score = record.n if op.after is Status.PENDING else self._ref("incr", self.keys.updates)
        self.ops.append(["zadd", self.keys.status(op.after), score, post_id])

    def _set_wall(self, key: str, value: Any) -> None:
        if key == "rules":
            self.ops.append(["set", self.keys.rules, json.dumps(value, ensure_ascii=False)])
        elif value is None:
            self.ops.append(["hdel", self.keys.wall, key])
        else:
            self.ops.append(["hset", self.keys.wall, {key: "1" if value is True else value}])

    def compile(self, changes: ChangeSet, records: dict[str, Record]) -> None:
        """Add the writes of `changes`; `records`: every post it touches, as read (the
        posts it queues are added)."""
        shown: dict[str, dict[str, str]] = {}
        for op in changes.ops:
            match op:
                case Append():
                    ref = self._event(op)
                    if op.shows is not None:
                        shown[op.shows] = ref
                case Insert():
                    records[op.post.id] = self._insert(op)
                case SetStatus():
                    self._set_status(op, records[op.post_id], shown.pop(op.post_id, None))
                case SetDecider(post_id, actor):
                    self._update(records[post_id], {"decided_by": actor})
                case Audit(entry, _, undoable):
                    text = jsoncodec.dumps(entry.to_dict())
                    self.ops.append(["xadd", self.keys.audit, "entry", self._arg(text)])
                    if undoable:
                        self.ops.append(["lpush", self.keys.undo(entry.actor), text])
                case Undone(actor):
                    self.ops.append(["lpop", self.keys.undo(actor)])
                case Remember(ref, d):
                    self.ops.append(["hset", self.keys.refs(d.moderator), {ref: json.dumps({
                        "post_id": d.post_id, "action": d.action.value,
                        "before": d.before.value, "after": d.after.value, "at": d.at})}])
                case SetWall(key, value):
                    self._set_wall(key, value)
                case SetClaim(post_id, moderator, until):
                    if moderator is None:
                        self._update(records[post_id], {})
                        self.ops.append(["hdel", self.keys.post(post_id), "claimed_by",
                                         "claim_until"])
                    else:
                        self._update(records[post_id],
                                     {"claimed_by": moderator, "claim_until": repr(until)})
                case CountShare(retweet, original, count):
                    self.ops.append(["hset", self.keys.shares, {retweet: original}])
                    self._update(records[original], {"shares": str(count)})
