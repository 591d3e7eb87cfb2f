"""Mastodon: follow the event's hashtags on several servers (streaming, SSE or polling per
server), the status normaliser, and `hashwall mastodon check`."""

from __future__ import annotations

from moderation.store import Store
from server.settings import Settings
from server.sources.base import Sink, Source, SourceEntry


def source(settings: Settings, sink: Sink, store: Store) -> Source:
    """The Mastodon source the settings ask for (the registry's factory)."""
    from server.sources.mastodon.source import MastodonSource

    return MastodonSource(settings.mastodon_instances, settings.hashtags, sink, store,
                          tokens=settings.mastodon_token_map,
                          poll_seconds=settings.mastodon_poll_seconds,
                          allow_unlisted=settings.mastodon_unlisted)


ENTRY = SourceEntry(
    "mastodon", lambda settings: bool(settings.mastodon_instances),
    lambda settings: None if settings.mastodon_instances
    else "HASHWALL_MASTODON_INSTANCES: expected the base URLs of Mastodon servers, got nothing",
    # Every server of the fediverse serves its own media, from a host of its choosing: the
    # statuses of any of them may reach the wall, so any HTTPS image may too.
    source, image_hosts=("https:",))
