"""The snapshot a screen starts from, built once per event and shared by every screen that
connects before the next one."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from moderation.queue import PUBLIC
from moderation.store import Store
from server import protocol
from server.protocol import encode


@dataclass(frozen=True)
class Built:
    """A snapshot message as of event `seq`, and its encoding."""

    seq: int
    message: dict[str, Any]
    text: str
    epoch: str | None = None

    def reset(self) -> str:
        """The encoding for a screen that asked to resume elsewhere: told to start over."""
        return encode({**self.message, "reset": True})


class PublicSnapshots:
    """The public snapshot is a function of the last public event: the posts shown, the
    pinned post, the pause and the counts screens see all change only with an event. So
    hundreds of screens reconnecting at once (after a restart or a network cut) cost one
    store read and one encoding, not one each; only the check of the last sequence number
    is made per screen."""

    def __init__(self, store: Store, limit: int) -> None:
        self.store = store
        self.limit = limit
        self.builds = 0
        self._latest: Built | None = None
        self._building: asyncio.Task[Built] | None = None

    async def get(self) -> Built:
        """A snapshot as of the last public event or later.

        Never older than the store was when called: a screen is registered with its hub
        before it asks, so every event after that point reaches it live, and the snapshot
        must cover every event before it.
        """
        wanted = await self.store.last_seq(PUBLIC)
        epoch = await self.store.epoch()
        if self._latest is not None and self._latest.epoch != epoch:
            self._latest = None  # the store was replaced: its old posts are no longer true
        while True:
            latest = self._latest
            if latest is not None and latest.seq >= wanted:
                return latest
            if self._building is None or self._building.done():
                self._building = asyncio.create_task(self._build())
            # Screens arriving meanwhile share the build; shielded, so that a screen that
            # leaves does not cancel it for the others. A build that began before `wanted`
            # was read may be older: then the next one, begun after, is not.
            built = await asyncio.shield(self._building)
            if built.seq >= wanted and built.epoch == epoch:
                return built

    async def _build(self) -> Built:
        # The epoch first: a store replaced between the two reads gives an older epoch with
        # the new posts, which the next screen's check rebuilds.
        epoch = await self.store.epoch()
        snap = await self.store.snapshot(self.limit)
        message = protocol.snapshot(snap.seq, snap.posts, pinned=snap.pinned,
                                    paused=snap.paused, shares=snap.shares, epoch=epoch)
        built = Built(snap.seq, message, encode(message), epoch)
        self.builds += 1
        if (self._latest is None or built.seq >= self._latest.seq
                or built.epoch != self._latest.epoch):
            self._latest = built
        return built
