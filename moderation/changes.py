"""A plain description of one atomic change to the queue, which every store applies as is.

The planners (`moderation.plans`, `moderation.controls`, `moderation.shares`,
`moderation.claims`) decide what a submit, a decision, an undo, a share, a claim or a switch
of the wall changes and write it here as a list of operations, in order. A store only
applies them, all or none: SQLite in one transaction, Redis in one APPLY script. It never
decides anything itself, so the policy exists once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moderation.post import Post, Status
from moderation.queue import MODERATION, PUBLIC, AuditEntry, Decision, QueueItem


@dataclass(frozen=True, slots=True)
class Append:
    """Append an event to a channel's log; `shows`: the post whose shown position it is."""

    channel: str
    type: str
    data: dict[str, Any]
    at: float
    shows: str | None = None


@dataclass(frozen=True, slots=True)
class Insert:
    """Queue a new post as pending among the versions of `root`, with the rule and reason it
    is queued with at `at`; `data`: the post's JSON-ready form (made once, for the store and
    the `queue.added` event alike)."""

    post: Post
    data: dict[str, Any]
    root: str
    rule: str | None
    reason: str | None
    at: float


@dataclass(frozen=True, slots=True)
class SetStatus:
    """Move a post to another status; it loses its claim unless it stays pending.

    Its shown position becomes the sequence number of the `Append` that `shows` it, if one
    came before in the same change. `rule` and `reason` replace the item's when given.
    """

    post_id: str
    before: Status
    after: Status
    actor: str
    at: float
    rule: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class SetDecider:
    """Record who decided a post (an announcement is its moderator's, not the rules')."""

    post_id: str
    actor: str


@dataclass(frozen=True, slots=True)
class Audit:
    """Append an audit entry; `ref`: the client's id of the decision; `undoable`: a
    decision its moderator may undo later."""

    entry: AuditEntry
    ref: str | None = None
    undoable: bool = False


@dataclass(frozen=True, slots=True)
class Undone:
    """The moderator's newest decision not yet undone is undone: the next undo reaches the
    one before it."""

    actor: str


@dataclass(frozen=True, slots=True)
class Remember:
    """The outcome of the decision a moderator sent under `ref`, to answer a re-send."""

    ref: str
    decision: Decision


@dataclass(frozen=True, slots=True)
class SetWall:
    """Set one persisted switch of the wall (`pinned`, `paused`, `mode`, `rules`); None
    removes it."""

    key: str
    value: Any


@dataclass(frozen=True, slots=True)
class SetClaim:
    """Give a pending post to a moderator until `until`, or back to the pool (None)."""

    post_id: str
    moderator: str | None
    until: float | None


@dataclass(frozen=True, slots=True)
class CountShare:
    """Retweet `retweet` is counted toward `original`, whose count becomes `count`."""

    retweet: str
    original: str
    count: int


Operation = (Append | Insert | SetStatus | SetDecider | Audit | Undone | Remember | SetWall
             | SetClaim | CountShare)


@dataclass
class ChangeSet:
    """The operations of one change, in order, and the wall as the planners leave it.

    `pinned` is the pinned post as read, kept current as the change unpins it; `clock`
    gives the time of each step (a store that writes a batch at one instant passes a
    constant).
    """

    clock: Callable[[], float]
    pinned: str | None = None
    ops: list[Operation] = field(default_factory=list)

    def append(self, channel: str, type_: str, data: dict[str, Any], at: float,
               shows: str | None = None) -> None:
        """Append one event to a channel."""
        self.ops.append(Append(channel, type_, data, at, shows))

    def both(self, type_: str, data: dict[str, Any], at: float) -> None:
        """Append one event to the public and the moderation channel."""
        self.append(PUBLIC, type_, data, at)
        self.append(MODERATION, type_, data, at)

    def audit(self, at: float, actor: str, action: str, post_id: str,
              before: Status | str | None, after: Status | str, rule: str | None,
              ref: str | None = None, undoable: bool = False) -> None:
        """Append an audit entry."""
        entry = AuditEntry(at, actor, action, post_id, str(before) if before else None,
                           str(after), rule)
        self.ops.append(Audit(entry, ref, undoable))

    def insert(self, item: QueueItem, root: str, data: dict[str, Any]) -> None:
        """Queue a new pending item as it is now (later steps may change `item`, not what is
        inserted); `data`: its post's `to_dict()`."""
        self.ops.append(Insert(item.post, data, root, item.rule, item.reason, item.received_at))

    def set_status(self, item: QueueItem, after: Status, actor: str, at: float,
                   rule: str | None = None, reason: str | None = None) -> None:
        """Record a status change and update `item` to match (`plans.move` adds the events
        a status change makes; call that, not this)."""
        self.ops.append(SetStatus(item.post.id, item.status, after, actor, at, rule, reason))
        item.status, item.decided_by, item.updated_at = after, actor, at
        if rule is not None:
            item.rule = rule
        if reason is not None:
            item.reason = reason
        if after is not Status.PENDING:
            item.claimed_by = item.claim_until = None

    def count_share(self, retweet: str, original: str, count: int) -> None:
        """Record a retweet counted toward `original`, whose count becomes `count`."""
        self.ops.append(CountShare(retweet, original, count))

    def set_wall(self, key: str, value: Any) -> None:
        """Set or (None) remove a persisted switch of the wall."""
        if key == "pinned":
            self.pinned = value
        self.ops.append(SetWall(key, value))

    def channels(self) -> set[str]:
        """The channels this change appends to: the ones whose waiters to wake."""
        return {op.channel for op in self.ops if isinstance(op, Append)}
