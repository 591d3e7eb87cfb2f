"""The X API v2 filtered stream: client, rules, normaliser, read budget, source, check."""

from __future__ import annotations

from moderation.store import Store
from server.settings import RetweetPolicy, Settings
from server.sources.base import Sink, Source


def source(settings: Settings, sink: Sink, store: Store) -> Source:
    """The X source the settings ask for (the registry's factory)."""
    from server.sources.x.source import XSource

    assert settings.x_bearer_token
    return XSource(settings.x_bearer_token, settings.x_api_url, settings.hashtags, sink,
                   store=store, exclude_retweets=settings.retweet_policy is RetweetPolicy.DROP,
                   stall_timeout=settings.x_stall_timeout,
                   read_budget=settings.x_monthly_read_budget,
                   price_per_read=settings.x_price_per_read)
