"""The Bluesky source the settings describe."""

from __future__ import annotations

from moderation.store import Store
from server.settings import Settings
from server.sources.base import Sink
from server.sources.bluesky.compression import load_dictionary
from server.sources.bluesky.source import BlueskyConfig, BlueskySource


def config_from_settings(settings: Settings) -> BlueskyConfig:
    """Hosts, AppView, hashtags, and the zstd dictionary when another than Jetstream's is set."""
    path = settings.bluesky_zstd_dictionary
    dictionary = load_dictionary(path) if path is not None else None
    return BlueskyConfig(
        hosts=tuple(settings.bluesky_jetstream_url),
        appview_url=settings.bluesky_appview_url,
        plc_url=settings.bluesky_plc_url,
        hashtags=tuple(settings.hashtags),
        dictionary=dictionary,
        compress=settings.bluesky_compress,
        profile_wait=settings.bluesky_profile_wait,
    )


def source_from_settings(settings: Settings, sink: Sink, store: Store) -> BlueskySource:
    """The Bluesky source, handing posts to `sink` and keeping its cursor in `store`."""
    return BlueskySource(config_from_settings(settings), sink, store)
