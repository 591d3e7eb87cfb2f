"""What a running hashwall holds: settings, store, hubs, pipeline and sources."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from moderation.rules import RuleSet
from moderation.store import Store
from server.fanout import Hub
from server.pipeline import Pipeline
from server.settings import ModerationMode, Settings


class Source(Protocol):
    """A producer of posts that runs in the background."""

    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def health(self) -> dict[str, Any]: ...


@dataclass
class Wall:
    """Everything the lifespan opens, in the order it opens them."""

    settings: Settings
    store: Store
    password: str
    public: Hub
    moderation: Hub
    pipeline: Pipeline
    sources: list[Source] = field(default_factory=list)


def rules_from(settings: Settings) -> RuleSet:
    """The automatic rules the settings ask for."""
    return RuleSet(
        trusted_authors=frozenset(settings.trusted_authors),
        blocked_words=tuple(settings.blocked_words),
        post_moderation=settings.moderation_mode is ModerationMode.POST,
    )
