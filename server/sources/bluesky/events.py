"""The events a Jetstream sends, whatever its protocol version: commits, identities, accounts."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

POST = "app.bsky.feed.post"
REPOST = "app.bsky.feed.repost"


class Operation(enum.StrEnum):
    """What a commit did to a record."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


@dataclass(frozen=True, slots=True)
class Commit:
    """A record created, updated or deleted in an account's repository."""

    did: str
    time_us: int
    operation: Operation
    collection: str
    rkey: str
    cid: str | None = None
    record: dict[str, Any] | None = None

    @property
    def uri(self) -> str:
        """The record's at-uri: `at://<did>/<collection>/<rkey>`."""
        return f"at://{self.did}/{self.collection}/{self.rkey}"


@dataclass(frozen=True, slots=True)
class Identity:
    """An account's handle or DID document changed."""

    did: str
    time_us: int
    handle: str | None = None


@dataclass(frozen=True, slots=True)
class Account:
    """An account was activated, deactivated, suspended or deleted."""

    did: str
    time_us: int
    active: bool
    status: str | None = None


@dataclass(frozen=True, slots=True)
class Other:
    """An event of a kind this version does not know; skipped, but its time still counts."""

    did: str
    time_us: int
    kind: str


Event = Commit | Identity | Account | Other
