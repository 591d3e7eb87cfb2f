"""Retweets counted toward their original: what moderators and screens learn of a new share."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from moderation.changes import ChangeSet
from moderation.exceptions import UnknownPost
from moderation.post import Status
from moderation.queue import MODERATION, PUBLIC, QueueItem
from moderation.wire import MessageType

# Up to this count screens get the exact number; above it only the steps below, so a post
# shared thousands of times sends phones a few dozen messages, not thousands.
EXACT_BELOW = 10
STEPS = (1, 2, 5)

Events = list[tuple[str, str, dict[str, Any]]]


def screen_shares(count: int) -> int:
    """The share count screens show: exact below 10, then 10, 20, 50, 100, 200, 500, …

    Rounded down, so a screen never shows more shares than there are; a pure function of
    the exact count, so replaying the event log and reading a snapshot agree.
    """
    if count < EXACT_BELOW:
        return max(count, 0)
    shown, power = EXACT_BELOW, EXACT_BELOW
    while True:
        for step in STEPS:
            if step * power > count:
                return shown
            shown = step * power
        power *= 10


def plan_share(post_id: str, status: Status, before: int, after: int) -> Events:
    """The events of a share count going from `before` to `after`, as (channel, type, data).

    Moderators get every count (`queue.shares`); screens get `post.shares` only for an
    approved post, and only when the count they show changes.
    """
    events: Events = [(MODERATION, MessageType.QUEUE_SHARES, {"id": post_id, "shares": after})]
    shown = screen_shares(after)
    if status is Status.APPROVED and shown != screen_shares(before):
        events.append((PUBLIC, MessageType.POST_SHARES, {"id": post_id, "shares": shown}))
    return events


def screen_counts(counts: dict[str, int]) -> dict[str, int]:
    """Exact counts by post id → the counts screens show, leaving out posts never shared."""
    return {post_id: screen_shares(n) for post_id, n in counts.items() if n > 0}


def plan_shares(changes: ChangeSet, shares: Sequence[tuple[str, str]],
                counted: dict[str, str | None], items: dict[str, QueueItem | None]) -> list[int]:
    """Count retweets toward their originals, in order; for each, the original's count.

    `counted`: the post each retweet was already counted toward (None: not yet); `items`:
    the posts concerned, updated as counted. A retweet counted already changes nothing and
    gives the current count of its post; `UnknownPost` when an original is not queued.
    """
    counted = dict(counted)
    counts: list[int] = []
    now = changes.clock()
    for retweet, original in shares:
        toward = counted.get(retweet)
        if toward is not None:
            item = items.get(toward)
            counts.append(item.shares if item else 0)
            continue
        item = items.get(original)
        if item is None:
            raise UnknownPost(f"no post with id {original!r} in the queue to count "
                              f"retweet {retweet!r} toward")
        counted[retweet] = original
        before = item.shares
        item.shares = before + 1
        changes.count_share(retweet, original, item.shares)
        for channel, type_, data in plan_share(original, item.status, before, item.shares):
            changes.append(channel, type_, data, now)
        counts.append(item.shares)
    return counts
