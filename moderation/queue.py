"""The queue's records and its state transitions, as pure functions of their input."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from moderation.exceptions import DecisionConflict, InvalidAction
from moderation.post import Post, Status
from moderation.wire import MessageType

PUBLIC = "public"
MODERATION = "moderation"
CHANNELS = (PUBLIC, MODERATION)


class Action(enum.StrEnum):
    """A moderator's decision on one post."""

    APPROVE = "approve"
    REJECT = "reject"
    HIDE = "hide"

    @classmethod
    def parse(cls, value: str) -> Action:
        """The action named `value`, or `InvalidAction` naming the ones that exist."""
        try:
            return cls(value)
        except ValueError:
            names = ", ".join(a.value for a in cls)
            raise InvalidAction(f"expected one of {names}, got {value!r}") from None


# The statuses each action may start from; anything else is a conflict.
ALLOWED_FROM: dict[Action, frozenset[Status]] = {
    Action.APPROVE: frozenset({Status.PENDING, Status.REJECTED, Status.HIDDEN}),
    Action.REJECT: frozenset({Status.PENDING}),
    Action.HIDE: frozenset({Status.APPROVED}),
}
RESULT: dict[Action, Status] = {
    Action.APPROVE: Status.APPROVED,
    Action.REJECT: Status.REJECTED,
    Action.HIDE: Status.HIDDEN,
}


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the automatic rules decided for a post, and which rule decided it."""

    status: Status
    rule: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Event:
    """One entry of an ordered event log."""

    seq: int
    type: str
    data: dict[str, Any]

    def message(self) -> dict[str, Any]:
        """The wire form of the event (docs/protocol.md)."""
        return {"type": self.type, "seq": self.seq, **self.data}


@dataclass(slots=True)
class QueueItem:
    """A post and where it stands in the queue."""

    post: Post
    status: Status
    rule: str | None = None
    reason: str | None = None
    decided_by: str | None = None
    received_at: float = 0.0
    updated_at: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    claimed_by: str | None = None
    claim_until: float | None = None
    shares: int = 0  # retweets counted toward this post (Store.share)

    def to_dict(self, post: dict[str, Any] | None = None) -> dict[str, Any]:
        """The JSON-ready form used on the moderator socket and the API; `post`: the post's
        `to_dict()` when the caller already made it."""
        return {
            "post": self.post.to_dict() if post is None else post,
            "status": self.status.value,
            "rule": self.rule,
            "reason": self.reason,
            "decided_by": self.decided_by,
            "received_at": self.received_at,
            "updated_at": self.updated_at,
            "claimed_by": self.claimed_by,
            "claim_until": self.claim_until,
            "shares": self.shares,
        }


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of a decision that was applied."""

    post_id: str
    action: Action
    before: Status
    after: Status
    moderator: str
    at: float
    # True when this is the answer to a decision already applied under the same client ref.
    repeat: bool = False


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """Who decided what, when, and which rule was involved."""

    at: float
    actor: str
    action: str
    post_id: str
    before: str | None
    after: str
    rule: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready form of the entry."""
        return {
            "at": self.at,
            "actor": self.actor,
            "action": self.action,
            "post_id": self.post_id,
            "before": self.before,
            "after": self.after,
            "rule": self.rule,
        }


@dataclass(slots=True)
class Plan:
    """What a store must write, atomically, to apply one change."""

    status: Status
    public: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    moderation: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


def plan_decision(
    post_id: str,
    current: Status,
    action: Action,
    moderator: str,
    expected: Status | None = None,
) -> Plan:
    """The new status and events of a decision, or `DecisionConflict`."""
    if expected is not None and current is not expected:
        raise DecisionConflict(
            f"post {post_id} is {current.value} now, not {expected.value}: "
            "another decision came first"
        )
    if current not in ALLOWED_FROM[action]:
        raise DecisionConflict(f"cannot {action.value} post {post_id}: it is {current.value}")
    after = RESULT[action]
    plan = Plan(status=after)
    plan.moderation.append(
        (
            MessageType.QUEUE_DECIDED,
            {"id": post_id, "status": after.value, "action": action.value, "moderator": moderator},
        )
    )
    return plan


def screen_events(post: Post, before: Status, after: Status,
                  shares: int = 0) -> list[tuple[str, dict[str, Any]]]:
    """The public events a status change makes: shown on approval, retracted on leaving it.

    `shares` is the share count screens show (`shares.screen_shares`); a shown post that was
    shared carries it, so a screen needs no second message.
    """
    if after is Status.APPROVED and before is not Status.APPROVED:
        data: dict[str, Any] = {"post": post.to_dict()}
        if shares > 0:
            data["shares"] = shares
        return [(MessageType.POST_SHOWN, data)]
    if before is Status.APPROVED and after is not Status.APPROVED:
        return [(MessageType.POST_RETRACTED, {"id": post.id})]
    return []


# The decisions a moderator can undo, newest first, one at a time.
UNDOABLE = frozenset(a.value for a in Action)


def plan_undo(post_id: str, current: Status, last: AuditEntry, moderator: str) -> Plan:
    """Put a post back where `last` (the moderator's newest undoable decision) found it."""
    if last.before is None or last.action not in UNDOABLE:
        raise InvalidAction(f"cannot undo {last.action!r} on post {post_id}")
    if current.value != last.after:
        raise DecisionConflict(
            f"cannot undo your {last.action} of post {post_id}: it is {current.value} now, "
            "someone decided after you"
        )
    before = Status(last.before)
    plan = Plan(status=before)
    plan.moderation.append(
        (
            MessageType.QUEUE_DECIDED,
            {"id": post_id, "status": before.value, "action": "undo", "undone": last.action,
             "moderator": moderator},
        )
    )
    return plan


# An undone approval of an edit shows again the version that approval had replaced.
RESTORED = "edit.restored"
RESTORED_REASON = "the approval of its newer version was undone"


def replaced_by(action: str, moderator: str, at: float, others: list[QueueItem]) -> list[QueueItem]:
    """The versions of a post to show again when `moderator` undoes their `action` made at
    `at` on another version: those that approval hid as replaced, unless a version is
    approved now (then that one stays the only one shown)."""
    if action != Action.APPROVE.value or any(o.status is Status.APPROVED for o in others):
        return []
    return [o for o in others if o.status is Status.HIDDEN and o.rule == "edit.replaced"
            and o.decided_by == moderator and o.updated_at == at]


def restored_event(post_id: str, moderator: str) -> tuple[str, dict[str, Any]]:
    """The moderation event of a version shown again by an undo."""
    return (MessageType.QUEUE_DECIDED, {"id": post_id, "status": Status.APPROVED.value,
                              "action": "restore", "moderator": moderator, "rule": RESTORED})


def unpin_events(
    post_id: str, after: Status, pinned: str | None
) -> list[tuple[str, dict[str, Any]]]:
    """The pinned post leaves the featured place as soon as it is no longer approved."""
    if pinned is not None and pinned == post_id and after is not Status.APPROVED:
        return [(MessageType.POST_UNPINNED, {"id": post_id})]
    return []
