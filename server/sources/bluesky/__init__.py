"""Bluesky through Jetstream: the stream's protocol, the hashtag match, the normaliser, the
source that follows the event's hashtags live, and its check."""

from __future__ import annotations

from moderation.store import Store
from server.settings import Settings
from server.sources.base import Sink, Source, SourceEntry


def source(settings: Settings, sink: Sink, store: Store) -> Source:
    """The Bluesky source the settings ask for (the registry's factory)."""
    from server.sources.bluesky.config import source_from_settings

    return source_from_settings(settings, sink, store)


# Bluesky has working defaults (public hosts), so it runs unasked only when a Jetstream URL
# is set; HASHWALL_SOURCES=bluesky runs it with the defaults.
ENTRY = SourceEntry(
    "bluesky", lambda settings: "bluesky_jetstream_url" in settings.model_fields_set,
    lambda settings: None, source, image_hosts=("https://cdn.bsky.app",))
