"""What a running hashwall holds (`Wall`), and the one way to open and close it
(`open_wall`), used by the web app's lifespan, `hashwall ingest` and the benchmarks."""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from moderation.queue import MODERATION, PUBLIC
from moderation.rules import RuleSet
from moderation.ruleset_config import load_rules_file, seed_rules
from moderation.store import Store, create_store
from server.fanout import Hub
from server.periodic import Periodic
from server.pipeline import Pipeline
from server.settings import Settings
from server.snapshots import PublicSnapshots
from server.sources.base import Source

if TYPE_CHECKING:
    from server.throttle import Throttle

logger = logging.getLogger(__name__)


@dataclass
class Wall:
    """Everything `open_wall` opens, in the order it opens them, and the state of the
    process's moderators (sign-in throttle, accounts, open consoles)."""

    settings: Settings
    store: Store
    password: str
    public: Hub
    moderation: Hub
    pipeline: Pipeline
    sources: list[Source] = field(default_factory=list)
    # Signs the moderators' session cookies.
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    # Moderator accounts (HASHWALL_ACCOUNTS_FILE), name → argon2 hash; None: one password.
    accounts: dict[str, str] | None = None
    # Open moderator sockets per moderator name, in this process.
    moderators_present: Counter[str] = field(default_factory=Counter)
    # The sources' watches of this web process (SourceEntry.watch).
    watches: list[Periodic] = field(default_factory=list)
    # The screens' snapshot, built once per public event.
    snapshots: PublicSnapshots = field(init=False)
    # Failed sign-ins per address and account (shared through Redis).
    login_throttle: Throttle = field(init=False)

    def __post_init__(self) -> None:
        from server.throttle import throttle_for

        self.snapshots = PublicSnapshots(self.store, self.settings.recent_posts)
        self.login_throttle = throttle_for(self.store)

    def notices(self) -> list[dict[str, Any]]:
        """The `source.notice` messages still in force, for consoles that connect now."""
        return [notice for watch in self.watches
                if (notice := getattr(watch, "latest", None)) is not None]


@contextlib.asynccontextmanager
async def open_wall(
    settings: Settings,
    *,
    store: Store | None = None,
    password: str | None = None,
    secret_key: str | None = None,
    serve: bool = True,
    ingest: bool = True,
) -> AsyncIterator[Wall]:
    """Open the store and the pipeline; with `serve` the screens' and consoles' hubs, the
    heartbeat and the claim sweeper; with `ingest` the sources the settings ask for. Close
    everything in the reverse order on the way out, whatever happens."""
    from moderation.accounts import load_accounts
    from server.claim_sweeper import ClaimSweeper
    from server.heartbeat import Heartbeat
    from server.pipeline import pipeline_for
    from server.sources import registry

    async with contextlib.AsyncExitStack() as opened_so_far:
        opened = store or create_store(settings.store_url)
        await opened.open()
        opened_so_far.push_async_callback(opened.close)
        public = Hub(opened, PUBLIC, settings.client_queue_size)
        moderation = Hub(opened, MODERATION, settings.client_queue_size)
        pipeline = pipeline_for(settings, opened)
        wall = Wall(settings, opened,
                    password or settings.moderator_password or secrets.token_urlsafe(9),
                    public, moderation, pipeline,
                    secret_key=secret_key or settings.secret_key or secrets.token_urlsafe(32),
                    accounts=(load_accounts(settings.accounts_file)
                              if settings.accounts_file else None))
        if serve:
            for hub in (public, moderation):
                await hub.start()
                opened_so_far.push_async_callback(hub.stop)
            heartbeat = Heartbeat([public, moderation], settings.heartbeat_seconds)
            await heartbeat.start()
            opened_so_far.push_async_callback(heartbeat.stop)
        await pipeline.start()
        opened_so_far.push_async_callback(pipeline.stop)
        if serve:
            sweeper = ClaimSweeper(opened)
            await sweeper.start()
            opened_so_far.push_async_callback(sweeper.stop)
            for entry in registry.ENTRIES.values():
                watch = entry.watch(settings, opened, moderation) if entry.watch else None
                if watch is not None:
                    await watch.start()
                    opened_so_far.push_async_callback(watch.stop)
                    wall.watches.append(watch)
        if ingest:
            opened_so_far.push_async_callback(_stop_sources, wall)
            for source in registry.sources_for(settings, pipeline, opened):
                wall.sources.append(source)
                await source.start()
        yield wall


async def _stop_sources(wall: Wall) -> None:
    for source in reversed(wall.sources):
        await source.stop()


def rules_from(settings: Settings) -> RuleSet:
    """The automatic rules the settings ask for: the rules file, plus the settings' lists."""
    file_rules = load_rules_file(settings.rules_file) if settings.rules_file else None
    return seed_rules(file_rules, settings.trusted_authors, settings.blocked_words,
                      settings.retweet_policy.value)
