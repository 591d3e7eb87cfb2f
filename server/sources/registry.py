"""Which sources run: a name for each, whether its settings are present, and its factory.

`HASHWALL_SOURCES` names the sources to run; unset, every source whose settings are present
runs. Adding a source is one module plus one line in `ENTRIES`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from moderation.store import Store
from server.settings import Settings, SettingsError
from server.sources.base import Sink, Source


@dataclass(frozen=True, slots=True)
class SourceEntry:
    """One kind of source: its name, whether it is configured, what it lacks, its factory."""

    name: str
    # Whether its settings are present (it then runs when HASHWALL_SOURCES is unset).
    configured: Callable[[Settings], bool]
    # What is missing for it to run, naming the setting ("X_BEARER_TOKEN: ..."), or None.
    missing: Callable[[Settings], str | None]
    factory: Callable[[Settings, Sink, Store], Source]


def _replay(settings: Settings, sink: Sink, store: Store) -> Source:
    from server.replay import ReplaySource

    assert settings.replay_file is not None
    return ReplaySource(settings.replay_file, sink.offer, settings.replay_speed)


def _x(settings: Settings, sink: Sink, store: Store) -> Source:
    from server.settings import RetweetPolicy
    from server.x_ingest import XIngester

    assert settings.x_bearer_token
    return XIngester(settings.x_bearer_token, settings.x_api_url, settings.hashtags,
                     sink=sink.offer,
                     exclude_retweets=settings.retweet_policy is RetweetPolicy.DROP)


def _needs(present: Callable[[Settings], object], text: str) -> Callable[[Settings], str | None]:
    return lambda settings: None if present(settings) else text


REPLAY = SourceEntry(
    "replay", lambda s: s.replay_file is not None,
    _needs(lambda s: s.replay_file, "HASHWALL_REPLAY_FILE: expected the file to replay, "
                                    "got nothing"),
    _replay)
X = SourceEntry(
    "x", lambda s: bool(s.x_bearer_token),
    _needs(lambda s: s.x_bearer_token, "X_BEARER_TOKEN: expected the X API bearer token, "
                                       "got nothing"),
    _x)

# One line per source, in start order.
ENTRIES: dict[str, SourceEntry] = {entry.name: entry for entry in (
    REPLAY,
    X,
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
