"""Posts sent from attendees' phones: the submissions API, photos, abuse limits, the switch."""

from server.sources.base import SourceEntry
from server.sources.onsite.source import OnsiteSource, source

__all__ = ["ENTRY", "OnsiteSource", "source"]

# Runs in every web process, ingesting or not (server/state.py): phones post to them.
ENTRY = SourceEntry(
    "onsite", lambda settings: settings.onsite_posts,
    lambda settings: None if settings.onsite_posts
    else "HASHWALL_ONSITE_POSTS: expected true, got false",
    source)
