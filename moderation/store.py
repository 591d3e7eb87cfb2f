"""The store interface: the moderation queue, the audit log and the ordered event logs."""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

from moderation.post import Post, Status
from moderation.queue import Action, AuditEntry, Decision, Event, QueueItem, Verdict


class StoreError(Exception):
    """The store cannot be opened or used as configured."""


class StoreUnavailable(StoreError):
    """The store's server cannot be reached right now; the same call may succeed later."""


class Store(abc.ABC):
    """One backend of the queue; every backend passes the same contract tests."""

    url: str

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

    @abc.abstractmethod
    async def decide(
        self, post_id: str, action: Action, moderator: str, expected: Status | None = None
    ) -> Decision:
        """Apply a decision atomically: `UnknownPost`, `DecisionConflict` or the outcome."""

    @abc.abstractmethod
    async def get(self, post_id: str) -> QueueItem | None:
        """One queue item, or None."""

    @abc.abstractmethod
    async def list_items(self, status: Status, limit: int = 100) -> list[QueueItem]:
        """Items with a status: pending oldest first, the others newest first."""

    @abc.abstractmethod
    async def count(self, status: Status) -> int:
        """How many items have a status."""

    @abc.abstractmethod
    async def snapshot(self, limit: int) -> tuple[int, list[Post]]:
        """The last public sequence number and the newest approved posts, newest first."""

    @abc.abstractmethod
    async def approved_before(self, post_id: str, limit: int) -> list[Post]:
        """Approved posts shown before `post_id` was, newest first: the phones' "load older".

        The cursor is the position at which `post_id` was last shown (its `post.shown`
        sequence number), kept even after the post is hidden, so a page can page on from its
        oldest post although that post was retracted meanwhile. Posts are ordered as
        `snapshot` orders them. `UnknownPost` when `post_id` was never shown.
        """

    @abc.abstractmethod
    async def last_seq(self, channel: str) -> int:
        """The sequence number of the newest event of a channel (0 when empty)."""

    @abc.abstractmethod
    async def events_after(self, channel: str, seq: int, limit: int = 500) -> list[Event]:
        """Events of a channel with a sequence number above `seq`, oldest first."""

    @abc.abstractmethod
    async def wait_for_events(self, channel: str, after: int, timeout: float) -> None:
        """Return when the channel may have an event above `after`, or after `timeout`."""

    @abc.abstractmethod
    async def audit(self, limit: int = 100) -> list[AuditEntry]:
        """The newest audit entries, newest first."""

    async def follow(self, channel: str, after: int) -> AsyncIterator[Event]:
        """Every event of a channel above `after`, in order, forever."""
        while True:
            events = await self.events_after(channel, after)
            if not events:
                await self.wait_for_events(channel, after, timeout=5.0)
                continue
            for event in events:
                yield event
            after = events[-1].seq


def create_store(url: str) -> Store:
    """The backend named by the URL scheme; its driver is imported only when needed."""
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        from moderation.sqlite_store import SQLiteStore

        return SQLiteStore(url)
    if scheme in ("redis", "rediss"):
        try:
            from moderation.redis_store import RedisStore  # type: ignore[import-not-found]
        except ImportError as exc:
            raise StoreError(f"the Redis store is not available: {exc}") from exc
        store: Store = RedisStore(url)
        return store
    raise StoreError(f"expected a store URL starting with sqlite:/// or redis://, got {url!r}")
