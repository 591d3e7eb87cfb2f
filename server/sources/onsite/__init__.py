"""Posts sent from attendees' phones: the submissions API, photos, abuse limits, the switch."""

from server.sources.onsite.source import OnsiteSource, source

__all__ = ["OnsiteSource", "source"]
