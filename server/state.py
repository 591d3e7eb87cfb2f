"""What a running hashwall holds: settings, store, hubs, pipeline and sources."""

from __future__ import annotations

from dataclasses import dataclass, field

from moderation.rules import RuleSet
from moderation.ruleset_config import load_rules_file, seed_rules
from moderation.store import Store
from server.fanout import Hub
from server.pipeline import Pipeline
from server.settings import Settings
from server.snapshots import PublicSnapshots
from server.sources.base import Source


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
    # The screens' snapshot, built once per public event.
    snapshots: PublicSnapshots = field(init=False)

    def __post_init__(self) -> None:
        self.snapshots = PublicSnapshots(self.store, self.settings.recent_posts)


def rules_from(settings: Settings) -> RuleSet:
    """The automatic rules the settings ask for: the rules file, plus the settings' lists."""
    file_rules = load_rules_file(settings.rules_file) if settings.rules_file else None
    return seed_rules(file_rules, settings.trusted_authors, settings.blocked_words,
                      settings.retweet_policy.value)
