"""The store interface: the moderation queue, the audit log and the ordered event logs."""

from __future__ import annotations

import abc
import secrets
from collections.abc import AsyncIterator, Sequence
from typing import Any

from moderation.post import Post, Status
from moderation.public_log import carried, redact
from moderation.queue import PUBLIC, Action, AuditEntry, Decision, Event, QueueItem, Verdict
from moderation.wall_state import Mode, Snapshot, WallState


class StoreError(Exception):
    """The store cannot be opened or used as configured."""


class StoreUnavailable(StoreError):
    """The store's server cannot be reached right now; the same call may succeed later."""


def new_epoch() -> str:
    """A fresh random epoch id (see `Store.epoch`)."""
    return secrets.token_hex(8)


class LogReplaced(StoreError):
    """The event log being followed was replaced (its epoch changed): its numbers restart."""


class Store(abc.ABC):
    """One backend of the queue; every backend passes the same contract tests."""

    url: str
    # Whether several web processes may share this store (their sign-in throttle must too).
    shared: bool = False

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect and create what is missing; raise `StoreError` with a clear message."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release every resource."""

    @abc.abstractmethod
    async def health(self) -> dict[str, Any]:
        """A JSON-ready state of the store, with `ok` true or false."""

    @abc.abstractmethod
    async def submit(self, post: Post, verdict: Verdict) -> tuple[QueueItem, bool]:
        """Queue a post (idempotent on its id); return its item and whether it was new."""

    async def submit_many(
        self, entries: Sequence[tuple[Post, Verdict]],
    ) -> list[tuple[QueueItem, bool]]:
        """Queue several posts, in order, as one atomic change; for each, what `submit` gives.

        The outcome, the events and the audit are those of submitting the posts one after
        the other (an edit may follow the post it edits in the same call), but the backend
        writes them at once: an ingest burst costs one commit, not one per post.
        """
        return [await self.submit(post, verdict) for post, verdict in entries]

    @abc.abstractmethod
    async def share(self, retweet_id: str, original_id: str) -> int:
        """Count retweet `retweet_id` toward the queued post `original_id`; return its count.

        Atomic, and idempotent on `retweet_id`: a retweet already counted (replayed after a
        reconnect or a restart) changes nothing and returns the current count of the post it
        was counted toward. Otherwise the post's `shares` goes up by one, persisted with the
        item, with the events of `shares.plan_share`: moderation `queue.shares`
        `{"id", "shares"}` always, public `post.shares` `{"id", "shares": screen count}` only
        when the post is approved and the count screens show changes. No audit entry: a
        share is not a decision. `UnknownPost` when `original_id` is not queued (submit the
        original first).
        """

    async def share_many(self, shares: Sequence[tuple[str, str]]) -> list[int]:
        """Count several (retweet id, original id) pairs, in order, as one atomic change;
        for each, what `share` gives. `UnknownPost` for any pair changes nothing."""
        return [await self.share(retweet_id, original_id) for retweet_id, original_id in shares]

    @abc.abstractmethod
    async def share_counts(self, post_ids: list[str]) -> dict[str, int]:
        """The exact share counts of those of `post_ids` that were shared, in one read."""

    @abc.abstractmethod
    async def decide(
        self, post_id: str, action: Action, moderator: str, expected: Status | None = None,
        ref: str | None = None,
    ) -> Decision:
        """Apply a decision atomically: `UnknownPost`, `DecisionConflict` or the outcome.

        With `ref` (a client's unique id for this decision): when this moderator already had
        a decision or undo applied under the same `ref`, nothing is applied and the outcome
        recorded then is returned with `repeat=True`; so a decision re-sent after a lost
        acknowledgement is answered, never applied twice. A decision leaving `approved` on the
        pinned post also unpins it (`post.unpinned`, public and moderation channels); a decided
        post loses its claim (`queue.decided` is the only event: consoles drop the claim).
        """

    @abc.abstractmethod
    async def get(self, post_id: str) -> QueueItem | None:
        """One queue item, or None."""

    async def get_many(self, post_ids: Sequence[str]) -> dict[str, QueueItem]:
        """The queued items among `post_ids`, by id, in one read where the backend can."""
        found = {}
        for post_id in dict.fromkeys(post_ids):
            item = await self.get(post_id)
            if item is not None:
                found[post_id] = item
        return found

    @abc.abstractmethod
    async def list_items(self, status: Status, limit: int = 100) -> list[QueueItem]:
        """Items with a status: pending oldest first, the others newest first."""

    @abc.abstractmethod
    async def pending_after(self, post_id: str, limit: int) -> list[QueueItem]:
        """Pending items queued after `post_id` was, oldest first: the next page of the queue.

        The position is where `post_id` was queued, kept after it was decided, so a reader
        pages on from the last post it saw whatever happened to that post meanwhile.
        `UnknownPost` when `post_id` was never queued.
        """

    @abc.abstractmethod
    async def count(self, status: Status) -> int:
        """How many items have a status."""

    @abc.abstractmethod
    async def snapshot(self, limit: int) -> Snapshot:
        """The last public sequence number and the newest approved posts, newest first.

        A `Snapshot` unpacks as `(seq, posts)` and also carries `pinned` (the pinned `Post`
        or None), `paused` and `shares` (the counts screens show of the posts and the pinned
        post that were shared, `shares.screen_counts`), all as of the same `seq`.
        """

    @abc.abstractmethod
    async def approved_before(self, post_id: str, limit: int) -> list[Post]:
        """Approved posts shown before `post_id` was, newest first: the phones' "load older".

        The cursor is the position at which `post_id` was last shown (its `post.shown`
        sequence number), kept even after the post is hidden, so a page can page on from its
        oldest post although that post was retracted meanwhile. Posts are ordered as
        `snapshot` orders them. `UnknownPost` when `post_id` was never shown.
        """

    @abc.abstractmethod
    async def epoch(self) -> str:
        """The id of this store's event logs: random, made when the store was created (or
        found emptied), the same for every process and restart of it.

        A sequence number means something only within its epoch: a screen that resumes
        with a `since` of another epoch (a replaced SQLite file, a flushed Redis) starts
        again from a snapshot.
        """

    @abc.abstractmethod
    async def last_seq(self, channel: str) -> int:
        """The sequence number of the newest event of a channel (0 when empty)."""

    @abc.abstractmethod
    async def events_after(self, channel: str, seq: int, limit: int = 500) -> list[Event]:
        """Events of a channel with a sequence number above `seq`, oldest first, as stored
        (screens are given them through `replay`)."""

    async def replay(self, channel: str, seq: int, limit: int = 500) -> list[Event]:
        """Events of a channel above `seq` as they may be delivered now, oldest first.

        The moderation channel is delivered as stored. On the public channel an event that
        carries a post not approved now (hidden, rejected or replaced since it was shown) is
        delivered as `post.retracted` `{"id"}` at its own sequence number
        (`public_log.redact`), so no replay ever shows what moderators took down.
        """
        return await self.deliverable(channel, await self.events_after(channel, seq, limit))

    async def deliverable(self, channel: str, events: list[Event]) -> list[Event]:
        """Stored events of a channel as they may be delivered now (see `replay`)."""
        if channel != PUBLIC:
            return events
        ids = {post_id for event in events if (post_id := carried(event)) is not None}
        if not ids:
            return events
        items = await self.get_many(sorted(ids))
        return redact(events, {i for i, item in items.items() if item.status is Status.APPROVED})

    @abc.abstractmethod
    async def wait_for_events(self, channel: str, after: int, timeout: float) -> None:
        """Return when the channel may have an event above `after`, or after `timeout`."""

    @abc.abstractmethod
    async def audit(self, limit: int = 100) -> list[AuditEntry]:
        """The newest audit entries, newest first (the export asks for every one)."""

    @abc.abstractmethod
    async def undo(self, moderator: str, ref: str | None = None) -> Decision:
        """Undo this moderator's newest not-yet-undone approve, reject or hide, atomically.

        The post goes back to the status the decision found it in, with the public events
        that makes (`post.shown` back to approved, `post.retracted` leaving approved, and
        `post.unpinned` if it was pinned), a moderation `queue.decided` event
        `{"id", "status": restored, "action": "undo", "undone": action, "moderator",
        "item": the item after the undo}` and an audit entry of action `undo` (before: the
        current status, after: the restored one, rule: the item's rule). The undone decision
        is marked so the next undo reaches the one before it. Returns a `Decision` whose
        `action` is the undone action, `before` the status undone and `after` the restored
        one. `InvalidAction` when the moderator has nothing left to undo; `DecisionConflict`
        (nothing changes, the decision stays undoable) when the post's status is no longer
        the one the decision set. `ref` makes it idempotent as in `decide`.
        """

    @abc.abstractmethod
    async def pin(self, post_id: str, moderator: str) -> bool:
        """Pin an approved post in the wall's featured place (one at a time); True if changed.

        Appends `post.pinned` `{"id", "post", "moderator"}` to both channels and audit
        `pin`; pinning the pinned post changes nothing and returns False. `UnknownPost`;
        `DecisionConflict` when the post is not approved.
        """

    @abc.abstractmethod
    async def unpin(self, moderator: str) -> str | None:
        """Empty the featured place; the id that was pinned, or None when it was empty.

        Appends `post.unpinned` `{"id", "moderator"}` to both channels and audit `unpin`.
        """

    @abc.abstractmethod
    async def announce(self, post: Post, moderator: str) -> tuple[QueueItem, bool]:
        """Queue a moderator's announcement approved at once; idempotent on `post.id`.

        Like `submit` with an approved verdict of rule `announcement`, decided by
        `moderator`: public `post.shown`, moderation `queue.added`, audit `announce`.
        Returns the item and whether it was new.
        """

    @abc.abstractmethod
    async def set_paused(self, paused: bool, moderator: str) -> bool:
        """Pause or resume the wall (persisted); True if it changed.

        On a change appends `wall.paused` or `wall.resumed` `{"moderator"}` to both channels
        and audit `pause` or `resume` (post_id "", before/after "paused"/"running").
        """

    @abc.abstractmethod
    async def set_mode(self, mode: Mode, moderator: str) -> bool:
        """Switch pre- or post-moderation (persisted); True if it changed.

        On a change appends moderation `wall.mode` `{"mode", "moderator"}` and audit `mode`
        (post_id "", before/after the mode names). Posts already queued keep their status.
        """

    @abc.abstractmethod
    async def wall_state(self) -> WallState:
        """The persisted mode, pause and pinned post id (`Mode.PRE`, False, None when new)."""

    @abc.abstractmethod
    async def get_rules(self) -> dict[str, Any] | None:
        """The rules as last stored by `put_rules`, or None when never stored."""

    @abc.abstractmethod
    async def put_rules(self, rules: dict[str, Any], moderator: str) -> None:
        """Store the rules (JSON-ready, already checked), with moderation `rules.changed`
        `{"rules", "moderator"}` and audit `rules` (post_id "", before None, after "changed")."""

    @abc.abstractmethod
    async def claim(self, moderator: str, size: int, ttl: float,
                    now: float | None = None) -> list[str]:
        """Give a moderator a batch of pending posts to review; return its ids, oldest first.

        The batch is `claims.select_batch` over the pending posts, oldest first: those the
        moderator still holds, then free ones (unclaimed or claim run out), `size` at most.
        Each gets `claimed_by=moderator`, `claim_until=now+ttl` (`now` defaults to the
        clock). Appends moderation `queue.claimed` `{"moderator", "ids", "until"}`, even
        when the batch is empty, so every console agrees.
        """

    @abc.abstractmethod
    async def release(self, moderator: str) -> list[str]:
        """Return every pending post a moderator holds to the pool; the ids, oldest first.

        Appends moderation `queue.released` `{"moderator", "ids"}` when there were any.
        """

    @abc.abstractmethod
    async def release_expired(self, now: float | None = None) -> list[str]:
        """Return to the pool every pending post whose claim ran out (`claim_until <= now`).

        Appends one `queue.released` per moderator concerned (`claims.release_events`).
        """

    @abc.abstractmethod
    async def get_cursor(self, source: str, key: str) -> str | None:
        """A source's saved resume point under `key` (a server, a host), or None."""

    @abc.abstractmethod
    async def set_cursor(self, source: str, key: str, value: str) -> None:
        """Save a source's resume point under `key`, replacing the previous one."""

    @abc.abstractmethod
    async def add_count(self, name: str, amount: int) -> int:
        """Add `amount` to the named counter, atomically for every process; the new total."""

    @abc.abstractmethod
    async def get_count(self, name: str) -> int:
        """The named counter's total (0 when never counted)."""

    async def next_batch(self, channel: str, after: int,
                         timeout: float) -> tuple[list[Event], str | None]:
        """The next events of a channel above `after` as `replay` gives them, waiting up to
        `timeout` for one, and the store's epoch as read after them (None when it has none:
        a flushed Redis).

        Waits first: it returns at once while events above `after` exist, so a burst is
        read in batches and no read is spent finding that a batch was the last.
        """
        await self.wait_for_events(channel, after, timeout)
        events = await self.replay(channel, after)
        return events, await self.epoch()

    async def follow(self, channel: str, after: int) -> AsyncIterator[Event]:
        """Every event of a channel above `after`, in order, forever, as `replay` gives them.

        `LogReplaced` when the store's epoch changes (a Redis flushed meanwhile): its numbers
        start again, so `after` means nothing any more.
        """
        epoch = await self.epoch()
        while True:
            events, now = await self.next_batch(channel, after, timeout=5.0)
            if now != epoch:
                raise LogReplaced(f"the {channel} event log was replaced: epoch {epoch} ended")
            for event in events:
                yield event
            if events:
                after = events[-1].seq
