"""Posts that wait in memory, in arrival order, while the store cannot be reached."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from moderation.post import Post
from moderation.store import StoreUnavailable

logger = logging.getLogger(__name__)

# Posts held at most; past that the source waits (a slow reader rather than a lost post).
SIZE = 10_000
FIRST_RETRY = 0.2
LAST_RETRY = 5.0


class Backlog:
    """A bounded queue of posts the store could not take yet, queued in order when it returns."""

    def __init__(self, queue: Callable[[Post], Awaitable[object]], size: int = SIZE) -> None:
        self._queue = queue
        self.size = size
        self.posts: collections.deque[Post] = collections.deque()
        self.held_total = 0
        self.last_error: str | None = None
        self._room = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self.posts)

    def health(self) -> dict[str, Any]:
        """The backlog's state for /healthz: ok while nothing waits."""
        return {"ok": not self.posts, "waiting": len(self.posts), "size": self.size,
                "held_total": self.held_total, "last_error": self.last_error}

    async def hold(self, post: Post, error: Exception | None = None) -> None:
        """Keep a post for later, behind those already waiting; wait while the backlog is full."""
        if error is not None and not self.posts:
            logger.warning("the store is unreachable; posts wait in memory: %s", error)
            self.last_error = str(error)
        async with self._room:
            await self._room.wait_for(lambda: len(self.posts) < self.size)
        self.posts.append(post)
        self.held_total += 1
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain(), name="backlog")

    async def stop(self) -> None:
        """Stop draining; posts still waiting are lost with the process, and said so."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.posts:
            logger.error("stopping with %d posts the store never took", len(self.posts))

    async def _drain(self) -> None:
        delay = FIRST_RETRY
        queued = 0
        while self.posts:
            post = self.posts[0]
            try:
                await self._queue(post)
            except asyncio.CancelledError:
                raise
            except StoreUnavailable as exc:
                self.last_error = str(exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, LAST_RETRY)
                continue
            except Exception:
                # The same as a source does with a post the store refuses: say so, go on.
                logger.exception("post %s could not be queued", post.id)
            self.posts.popleft()
            queued += 1
            delay = FIRST_RETRY
            async with self._room:
                self._room.notify_all()
        logger.info("the store is back: %d waiting posts queued", queued)
