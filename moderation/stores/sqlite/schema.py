"""The SQLite store's tables, the columns added since the first release, and opening a file."""

from __future__ import annotations

import sqlite3

SCHEMA = """
CREATE TABLE IF NOT EXISTS posts (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    root TEXT NOT NULL,
    data TEXT NOT NULL,
    status TEXT NOT NULL,
    rule TEXT,
    reason TEXT,
    decided_by TEXT,
    received_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    shown_seq INTEGER
);
CREATE INDEX IF NOT EXISTS posts_status ON posts (status, n);
CREATE INDEX IF NOT EXISTS posts_root ON posts (root);
CREATE INDEX IF NOT EXISTS posts_shown ON posts (status, shown_seq);
CREATE TABLE IF NOT EXISTS events_public (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL, data TEXT NOT NULL, at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS events_moderation (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL, data TEXT NOT NULL, at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    post_id TEXT NOT NULL,
    before TEXT,
    after TEXT NOT NULL,
    rule TEXT
);
CREATE TABLE IF NOT EXISTS wall (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS shares (
    retweet TEXT PRIMARY KEY, original TEXT NOT NULL, at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS cursors (
    source TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (source, key)
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
# Columns added after the first release, for files created before them.
MIGRATIONS = {
    "posts": (("claimed_by", "TEXT"), ("claim_until", "REAL"),
              ("shares", "INTEGER NOT NULL DEFAULT 0")),
    "audit": (("ref", "TEXT"), ("undone", "INTEGER NOT NULL DEFAULT 0")),
}
INDEXES = """
CREATE INDEX IF NOT EXISTS posts_decided ON posts (status, updated_at, n);
CREATE INDEX IF NOT EXISTS audit_ref ON audit (actor, ref);
CREATE INDEX IF NOT EXISTS audit_undo ON audit (actor, undone, n);
"""


def connect(path: str) -> sqlite3.Connection:
    """Open (creating what is missing) the store file at `path`; `sqlite3.DatabaseError`."""
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA foreign_keys=ON")
    db.executescript(SCHEMA)
    for table, columns in MIGRATIONS.items():
        have = {r[1] for r in db.execute(f"PRAGMA table_info({table})")}
        for name, kind in columns:
            if name not in have:
                db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
    db.executescript(INDEXES)
    return db
