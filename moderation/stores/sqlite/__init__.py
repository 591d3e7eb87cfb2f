"""The embedded default store: one SQLite file, one process."""

from __future__ import annotations

from moderation.stores.sqlite.store import SQLiteStore

__all__ = ["SQLiteStore"]
