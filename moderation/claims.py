"""Batches of pending posts that one moderator takes so colleagues review others."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moderation.changes import ChangeSet, SetClaim
from moderation.exceptions import InvalidAction
from moderation.queue import MODERATION
from moderation.wire import MessageType

DEFAULT_BATCH = 10
MAX_BATCH = 100
DEFAULT_TTL = 300.0

Events = list[tuple[str, dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class Claimable:
    """A pending post's id and its claim, oldest pending first."""

    id: str
    claimed_by: str | None
    claim_until: float | None

    def free(self, now: float) -> bool:
        """Nobody holds this post, or the claim has run out."""
        return self.claimed_by is None or self.claim_until is None or self.claim_until <= now


def select_batch(pending: list[Claimable], moderator: str, size: int, now: float) -> list[str]:
    """The batch of a moderator: the posts they still hold, then the oldest free ones, up to
    `size` in all, oldest first."""
    held = [i.id for i in pending if i.claimed_by == moderator and not i.free(now)]
    free = [i.id for i in pending if i.free(now)]
    chosen = set((held + free)[:size])
    return [i.id for i in pending if i.id in chosen]


def claim_events(moderator: str, ids: list[str], until: float) -> Events:
    """The moderation event that tells everyone which posts a moderator now holds."""
    return [(MessageType.QUEUE_CLAIMED, {"moderator": moderator, "ids": ids, "until": until})]


def release_events(released: dict[str, list[str]]) -> Events:
    """One moderation event per moderator whose posts went back to the pool."""
    return [
        (MessageType.QUEUE_RELEASED, {"moderator": moderator, "ids": ids})
        for moderator, ids in sorted(released.items()) if ids
    ]


def check_size(size: Any) -> int:
    """A batch size from a request, or `InvalidAction` saying what is expected."""
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_BATCH:
        raise InvalidAction(f"expected a batch size from 1 to {MAX_BATCH}, got {size!r}")
    return size


def plan_claim(changes: ChangeSet, pending: list[Claimable], moderator: str, size: int,
               until: float) -> list[str]:
    """Give a moderator their batch (`select_batch`) until `until`; the ids, oldest first.

    The event goes out even when the batch is empty, so every console agrees.
    """
    now = changes.clock()
    batch = select_batch(pending, moderator, size, now)
    for post_id in batch:
        changes.ops.append(SetClaim(post_id, moderator, until))
    for type_, data in claim_events(moderator, batch, until):
        changes.append(MODERATION, type_, data, now)
    return batch


def plan_release(changes: ChangeSet, pending: list[Claimable],
                 held: Callable[[Claimable], bool]) -> list[str]:
    """Return to the pool the claimed pending posts that `held` selects; their ids."""
    now = changes.clock()
    released: dict[str, list[str]] = {}
    for c in pending:
        if c.claimed_by is not None and held(c):
            released.setdefault(c.claimed_by, []).append(c.id)
            changes.ops.append(SetClaim(c.id, None, None))
    for type_, data in release_events(released):
        changes.append(MODERATION, type_, data, now)
    return [post_id for batch in released.values() for post_id in batch]
