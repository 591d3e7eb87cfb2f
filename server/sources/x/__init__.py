"""The X API v2 filtered stream: client, rules, normaliser, read budget, source, check."""

from __future__ import annotations

from typing import TYPE_CHECKING

from moderation.store import Store
from server.settings import RetweetPolicy, Settings
from server.sources.base import Sink, Source, SourceEntry

if TYPE_CHECKING:
    from server.fanout import Hub
    from server.periodic import Periodic


def source(settings: Settings, sink: Sink, store: Store) -> Source:
    """The X source the settings ask for (the registry's factory)."""
    from server.sources.x.source import XSource

    assert settings.x_bearer_token
    return XSource(settings.x_bearer_token, settings.x_api_url, settings.hashtags, sink,
                   store=store, exclude_retweets=settings.retweet_policy is RetweetPolicy.DROP,
                   stall_timeout=settings.x_stall_timeout,
                   read_budget=settings.x_monthly_read_budget,
                   price_per_read=settings.x_price_per_read)


def watch(settings: Settings, store: Store, hub: Hub) -> Periodic | None:
    """With a read budget, every web process tells the consoles when it nears its end."""
    if settings.x_monthly_read_budget is None:
        return None
    from server.sources.x.watch import BudgetWatch

    return BudgetWatch(store, hub, settings.x_monthly_read_budget, settings.x_price_per_read,
                       settings.heartbeat_seconds)


ENTRY = SourceEntry(
    "x", lambda settings: bool(settings.x_bearer_token),
    lambda settings: None if settings.x_bearer_token
    else "X_BEARER_TOKEN: expected the X API bearer token, got nothing",
    source, watch)
