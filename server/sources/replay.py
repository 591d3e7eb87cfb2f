"""A source that replays a JSONL file of any network's native items, at a realistic pace,
through that network's normaliser.

The network is named by a first-line header, `{"hashwall_replay": 1, "network": "x"}`, or
per item, `{"network": "mastodon", "item": {...}}`; a file without either is X's (the bundled
demo stream). Each network's normaliser is one line of `NORMALISERS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from moderation import jsoncodec
from moderation.exceptions import MalformedPayload
from moderation.post import Post
from moderation.store import Store
from server.settings import Settings
from server.sources.base import FAILED, Health, Sink, Source, SourceEntry, now_utc

logger = logging.getLogger(__name__)

BURST = 40
INTERVAL = 15.0
HEADER = "hashwall_replay"
DEFAULT_NETWORK = "x"

# A native item → a Post (or None: not a post, skipped). By network name, as
# "module:function", imported when a file names the network.
Normaliser = Callable[[Any], Post | None]
NORMALISERS: dict[str, str] = {
    "x": "server.sources.x.normalise:normalise_stream_item",
}


def normaliser(network: str) -> Normaliser:
    """The normaliser of `network`, or MalformedPayload naming the known networks."""
    target = NORMALISERS.get(network)
    if target is None:
        raise MalformedPayload(f"expected a network among {', '.join(sorted(NORMALISERS))}, "
                               f"got {network!r}")
    function = _loaded.get(target)
    if function is None:
        module, _, name = target.partition(":")
        function = _loaded[target] = getattr(importlib.import_module(module), name)
    return function


_loaded: dict[str, Normaliser] = {}


def is_header(obj: Any) -> bool:
    """Whether a parsed line is a replay file's header."""
    return isinstance(obj, dict) and HEADER in obj


def unwrap(obj: Any, network: str) -> tuple[str, Any]:
    """The network and native item of one parsed line: `{"network", "item"}` names its
    own network; anything else is a native item of the file's network."""
    if isinstance(obj, dict) and isinstance(obj.get("network"), str) and "item" in obj:
        return obj["network"], obj["item"]
    return network, obj


class ReplaySource:
    """Reads a JSONL replay file: a burst at once, then one post every INTERVAL / speed."""

    name = "replay"

    def __init__(
        self, path: Path, sink: Callable[[Post], Awaitable[object]], speed: float = 1.0
    ) -> None:
        self.path = path
        self.sink = sink
        self.speed = speed
        self.lines_read = 0
        self.posts = 0
        self.errors: list[str] = []
        self.status = Health()
        self._task: asyncio.Task[None] | None = None
        self.done = asyncio.Event()

    @property
    def state(self) -> str:
        """starting, running, finished or failed."""
        return self.status.state

    def health(self) -> dict[str, Any]:
        """The generic health fields, and the file's progress."""
        return {
            **self.status.to_dict(),
            "source": self.name,
            "file": self.path.name,
            "lines_read": self.lines_read,
            "posts": self.posts,
            "errors": len(self.errors),
            "last_error": self.errors[-1] if self.errors else None,
        }

    async def start(self) -> None:
        """Start replaying in the background."""
        self.status.state = "starting"
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
            self.status.state = FAILED
            self._error(f"cannot read replay file {self.path}: {exc}")
            self.done.set()
            return
        self.status.state = "running"
        self.status.connected_since = now_utc()
        network = DEFAULT_NETWORK
        for number, line in enumerate(lines, start=1):
            self.lines_read = number
            if not line.strip():
                continue
            try:
                obj = jsoncodec.loads(line)
            except ValueError as exc:
                self._error(f"{self.path.name} line {number}: skipped, {exc}")
                continue
            if is_header(obj):
                network = str(obj.get("network", DEFAULT_NETWORK))
                continue
            if number > BURST and self.speed > 0:
                await asyncio.sleep(INTERVAL / self.speed)
            self.status.items_received += 1
            self.status.last_item_at = now_utc()
            try:
                item_network, item = unwrap(obj, network)
                post = normaliser(item_network)(item)
            except MalformedPayload as exc:
                self._error(f"{self.path.name} line {number}: skipped, {exc}")
                continue
            if post is None:
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
        self.status.state = "finished"
        self.status.connected_since = None
        self.done.set()


def _source(settings: Settings, sink: Sink, store: Store) -> Source:
    assert settings.replay_file is not None
    return ReplaySource(settings.replay_file, sink.offer, settings.replay_speed)


ENTRY = SourceEntry(
    "replay", lambda settings: settings.replay_file is not None,
    lambda settings: None if settings.replay_file is not None
    else "HASHWALL_REPLAY_FILE: expected the file to replay, got nothing",
    _source)
