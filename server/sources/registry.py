"""Which sources run: a name for each, whether its settings are present, and its factory.

`HASHWALL_SOURCES` names the sources to run; unset, every source whose settings are present
runs. Adding a source is one module plus one line in `ENTRIES`.
"""

from __future__ import annotations

from moderation.store import Store
from server.settings import Settings, SettingsError
from server.sources import replay, x
from server.sources.base import Sink, Source, SourceEntry

__all__ = ["ENTRIES", "SourceEntry", "chosen", "register", "sources_for"]

# One line per source, in start order.
ENTRIES: dict[str, SourceEntry] = {entry.name: entry for entry in (
    replay.ENTRY,
    x.ENTRY,
)}


def register(entry: SourceEntry) -> None:
    """Add a kind of source (a plug-in outside this package, or a test's)."""
    ENTRIES[entry.name] = entry


def chosen(settings: Settings) -> list[SourceEntry]:
    """The sources the settings ask for, or a `SettingsError` naming what is wrong."""
    if settings.sources is None:
        return [entry for entry in ENTRIES.values() if entry.configured(settings)]
    entries = []
    for name in settings.sources:
        entry = ENTRIES.get(name)
        if entry is None:
            raise SettingsError(f"HASHWALL_SOURCES: expected source names among "
                                f"{', '.join(ENTRIES)}, got {name!r}")
        problem = entry.missing(settings)
        if problem is not None:
            raise SettingsError(f"HASHWALL_SOURCES names {name!r}, which needs {problem}")
        entries.append(entry)
    return entries


def sources_for(settings: Settings, sink: Sink, store: Store) -> list[Source]:
    """Build the sources the settings ask for, in order."""
    return [entry.factory(settings, sink, store) for entry in chosen(settings)]
