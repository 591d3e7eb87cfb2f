"""The health fields every source reports on /healthz and /metrics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# States a source or one of its connections is in.
STOPPED = "stopped"
CONNECTING = "connecting"
CONNECTED = "connected"
BACKING_OFF = "backing_off"
FAILED = "failed"
# Stopped on purpose and fine (a spent budget, a finished file): not a failure.
OK_STATES = frozenset({STOPPED, CONNECTING, CONNECTED, BACKING_OFF, "finished",
                       "budget_exhausted", "running"})


def iso(moment: datetime | None) -> str | None:
    """A moment as ISO 8601 with milliseconds, or None."""
    return moment.isoformat(timespec="milliseconds") if moment else None


def now_utc() -> datetime:
    """The current moment, timezone-aware."""
    return datetime.now(UTC)


@dataclass
class Health:
    """The fields every source (and each connection of a multi-connection source) reports."""

    state: str = STOPPED
    connected_since: datetime | None = None
    last_item_at: datetime | None = None
    last_keep_alive: datetime | None = None
    connects: int = 0
    items_received: int = 0
    keep_alives: int = 0
    last_error: str | None = None
    retry_in: float | None = None

    @property
    def reconnects(self) -> int:
        """Connections opened after the first."""
        return max(self.connects - 1, 0)

    @property
    def ok(self) -> bool:
        """False once failed for good."""
        return self.state in OK_STATES

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready form /healthz shows."""
        return {
            "ok": self.ok,
            "state": self.state,
            "connected": self.connected_since is not None,
            "connected_since": iso(self.connected_since),
            "last_item_at": iso(self.last_item_at),
            "last_keep_alive": iso(self.last_keep_alive),
            "reconnects": self.reconnects,
            "items_received": self.items_received,
            "keep_alives": self.keep_alives,
            "last_error": self.last_error,
            "retry_in": self.retry_in,
        }


# The generic fields every source's health() carries (docs/architecture.md).
HEALTH_FIELDS = ("ok", "state", "connected_since", "last_item_at", "last_keep_alive",
                 "reconnects", "items_received", "last_error")


def combined(name: str, parts: dict[str, Health]) -> dict[str, Any]:
    """One source's health from its connections': the sums, the newest moments, the best
    state of those still working (ok while one works: a Mastodon server refusing the token
    does not stop the others; `failed_connections` counts those that failed for good);
    each connection's own under `connections` when there are several."""
    values = list(parts.values())
    if not values:
        return {**Health().to_dict(), "source": name}
    if len(values) == 1:
        return {**values[0].to_dict(), "source": name}
    # The best state of a connection still working; failed once every one has failed.
    order = [CONNECTED, BACKING_OFF, CONNECTING, FAILED]
    states = {h.state for h in values}
    state = next((s for s in order if s in states), values[0].state)
    failed = sum(1 for h in values if not h.ok)

    def newest(moments: list[datetime | None]) -> str | None:
        known = [m for m in moments if m is not None]
        return iso(max(known)) if known else None

    def oldest(moments: list[datetime | None]) -> str | None:
        known = [m for m in moments if m is not None]
        return iso(min(known)) if known else None

    errors = [h.last_error for h in values if h.last_error]
    return {
        "ok": failed < len(values),
        "source": name,
        "state": state,
        "connected": any(h.connected_since is not None for h in values),
        "connected_since": oldest([h.connected_since for h in values]),
        "last_item_at": newest([h.last_item_at for h in values]),
        "last_keep_alive": newest([h.last_keep_alive for h in values]),
        "reconnects": sum(h.reconnects for h in values),
        "items_received": sum(h.items_received for h in values),
        "keep_alives": sum(h.keep_alives for h in values),
        "last_error": errors[-1] if errors else None,
        "retry_in": None,
        "failed_connections": failed,
        "connections": {key: h.to_dict() for key, h in parts.items()},
    }
