"""A source that replays a file of X API v2 stream items, at a realistic pace."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from moderation import jsoncodec
from moderation.exceptions import MalformedPayload
from moderation.post import Post
from moderation.x_normalise import normalise_stream_item

logger = logging.getLogger(__name__)

BURST = 40
INTERVAL = 15.0


class ReplaySource:
    """Reads a JSONL replay file: a burst at once, then one post every INTERVAL / speed."""

    name = "replay"

    def __init__(
        self, path: Path, sink: Callable[[Post], Awaitable[object]], speed: float = 1.0
    ) -> None:
        self.path = path
        self.sink = sink
        self.speed = speed
        self.state = "starting"
        self.lines_read = 0
        self.posts = 0
        self.errors: list[str] = []
        self._task: asyncio.Task[None] | None = None
        self.done = asyncio.Event()

    def health(self) -> dict[str, Any]:
        """The source's state for /healthz."""
        return {
            "ok": self.state != "failed",
            "state": self.state,
            "file": self.path.name,
            "lines_read": self.lines_read,
            "posts": self.posts,
            "items_received": self.posts,
            "errors": len(self.errors),
            "last_error": self.errors[-1] if self.errors else None,
        }

    async def start(self) -> None:
        """Start replaying in the background."""
        self._task = asyncio.create_task(self._run(), name="replay")

    async def stop(self) -> None:
        """Stop replaying."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _error(self, message: str) -> None:
        logger.warning("%s", message)
        self.errors = [*self.errors[-19:], message]

    async def _run(self) -> None:
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            self.state = "failed"
            self._error(f"cannot read replay file {self.path}: {exc}")
            self.done.set()
            return
        self.state = "running"
        for number, line in enumerate(lines, start=1):
            self.lines_read = number
            if not line.strip():
                continue
            if number > BURST and self.speed > 0:
                await asyncio.sleep(INTERVAL / self.speed)
            try:
                item = jsoncodec.loads(line)
                post = normalise_stream_item(item)
            except (json.JSONDecodeError, MalformedPayload) as exc:
                self._error(f"{self.path.name} line {number}: skipped, {exc}")
                continue
            try:
                await self.sink(post)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.exception("replay line %d could not be queued", number)
                self._error(f"{self.path.name} line {number}: not queued, {exc}")
                continue
            self.posts += 1
        self.state = "finished"
        self.done.set()
