"""What every source shares, in one place to import from: the Sink it hands posts to, the
Source protocol and the registry's SourceEntry (here), and, from their own modules, the
backoff policies as data (backoff.py), the health fields (health.py), cursors (cursor.py)
and the streaming base owning the connect → read → stall detection → backoff → reconnect
loop (streaming.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from moderation.post import Post
from moderation.store import Store
from server.sources.backoff import (
    HTTP,
    NETWORK,
    RATE_LIMITED,
    X_BACKOFF,
    Backoff,
    BackoffPolicy,
)
from server.sources.cursor import SourceCursor
from server.sources.health import (
    BACKING_OFF,
    CONNECTED,
    CONNECTING,
    FAILED,
    HEALTH_FIELDS,
    OK_STATES,
    STOPPED,
    Health,
    combined,
    iso,
    now_utc,
)
from server.sources.streaming import (
    KEEP_ALIVE,
    Fatal,
    KeepAlive,
    Retry,
    SourceError,
    StreamingSource,
)

if TYPE_CHECKING:
    from server.fanout import Hub
    from server.periodic import Periodic
    from server.settings import Settings

__all__ = [
    "BACKING_OFF", "CONNECTED", "CONNECTING", "FAILED", "HEALTH_FIELDS", "HTTP", "KEEP_ALIVE",
    "NETWORK", "OK_STATES", "RATE_LIMITED", "STOPPED", "X_BACKOFF", "Backoff", "BackoffPolicy",
    "Fatal", "Health", "KeepAlive", "Retry", "Sink", "Source", "SourceCursor", "SourceEntry",
    "SourceError", "StreamingSource", "combined", "iso", "now_utc",
]


class Sink(Protocol):
    """What the pipeline offers a source."""

    async def offer(self, post: Post) -> None:
        """Hand a post on to be queued in arrival order; an edit is a post with `edit_of`."""

    async def retract(self, post_id: str, reason: str) -> None:
        """Take back a post its author deleted on its network: shown → hidden from every
        screen, pending → rejected; audited with the network as actor and `reason`; an
        unknown id is ignored."""


class Source(Protocol):
    """A producer of posts that runs in the background."""

    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def health(self) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class SourceEntry:
    """One kind of source, as the registry knows it (server/sources/registry.py)."""

    name: str
    # Whether its settings are present (it then runs when HASHWALL_SOURCES is unset).
    configured: Callable[[Settings], bool]
    # What is missing for it to run, naming the setting ("X_BEARER_TOKEN: ..."), or None.
    missing: Callable[[Settings], str | None]
    # Builds the source: (settings, sink, store) -> Source.
    factory: Callable[[Settings, Sink, Store], Source]
    # Optional: a periodic task of every web process that tells the moderators' consoles
    # (the moderation hub) about the source, wherever it runs; None when not needed.
    watch: Callable[[Settings, Store, Hub], Periodic | None] | None = None
    # Where its posts' images and avatars come from, for the pages' Content-Security-Policy
    # (img-src and media-src), as CSP source expressions.
    image_hosts: tuple[str, ...] = ()
