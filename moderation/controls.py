"""What the moderators' switches change: the pinned post, the pause, the mode and the rules,
written into a `ChangeSet` (the events come from `moderation.wall_state`)."""

from __future__ import annotations

from typing import Any

from moderation.changes import ChangeSet
from moderation.queue import MODERATION, QueueItem
from moderation.wall_state import Mode, plan_mode, plan_pause, plan_pin, plan_unpin
from moderation.wire import MessageType


def pin(changes: ChangeSet, item: QueueItem, moderator: str) -> bool:
    """Pin an approved post (`DecisionConflict` otherwise); False when it already is."""
    now = changes.clock()
    events = plan_pin(item.post, item.status, changes.pinned, moderator)
    for type_, data in events:
        changes.both(type_, data, now)
        changes.set_wall("pinned", item.post.id)
        changes.audit(now, moderator, "pin", item.post.id, None, "pinned", item.rule)
    return bool(events)


def unpin(changes: ChangeSet, moderator: str) -> str | None:
    """Empty the featured place; the id that was pinned, or None when it was empty."""
    now = changes.clock()
    pinned = changes.pinned
    for type_, data in plan_unpin(pinned, moderator):
        changes.both(type_, data, now)
        changes.set_wall("pinned", None)
        changes.audit(now, moderator, "unpin", str(pinned), None, "unpinned", None)
    return pinned


def pause(changes: ChangeSet, paused_now: bool, paused: bool, moderator: str) -> bool:
    """Pause or resume the wall; False when it already is so."""
    now = changes.clock()
    events = plan_pause(paused_now, paused, moderator)
    for type_, data in events:
        changes.both(type_, data, now)
        changes.set_wall("paused", True if paused else None)
        names = ("running", "paused") if paused else ("paused", "running")
        changes.audit(now, moderator, "pause" if paused else "resume", "", *names, None)
    return bool(events)


def switch_mode(changes: ChangeSet, mode_now: Mode, mode: Mode, moderator: str) -> bool:
    """Switch pre- or post-moderation; False when the mode already is so."""
    now = changes.clock()
    events = plan_mode(mode_now, mode, moderator)
    for type_, data in events:
        changes.append(MODERATION, type_, data, now)
        changes.set_wall("mode", mode.value)
        changes.audit(now, moderator, "mode", "", mode_now.value, mode.value, None)
    return bool(events)


def put_rules(changes: ChangeSet, rules: dict[str, Any], moderator: str) -> None:
    """Store new rules (already checked), told to the consoles and audited."""
    now = changes.clock()
    changes.set_wall("rules", rules)
    changes.append(MODERATION, MessageType.RULES_CHANGED,
                   {"rules": rules, "moderator": moderator}, now)
    changes.audit(now, moderator, "rules", "", None, "changed", None)
