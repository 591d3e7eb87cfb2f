"""Abuse limits of phones' posts and photos, per device and per address, counted in the
store: every web process (on Redis) adds to the same counters."""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass

from moderation.store import Store


def address_key(host: str | None) -> str:
    """Whom an address stands for: an IPv4 address, or the /64 of an IPv6 one (one home or
    one phone's network has a whole /64 to pick addresses from)."""
    if not host:
        return "unknown"
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return host[:100]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


@dataclass(frozen=True, slots=True)
class Limit:
    """At most `most` of `kind` per `subject` in each window of `window` seconds."""

    kind: str  # posts or photos
    subject: str  # device:… or address:…
    most: int
    window: float

    def counter(self, now: float) -> str:
        """The store counter of the window `now` falls in."""
        return f"onsite:{self.kind}:{self.subject}:{int(now // self.window)}"

    def wait(self, now: float) -> float:
        """Seconds until the next window starts."""
        return (int(now // self.window) + 1) * self.window - now


class SlowDown(Exception):
    """A limit is reached; `wait` says how many seconds until it is not."""

    def __init__(self, limit: Limit, wait: float) -> None:
        what = "photos" if limit.kind == "photos" else "posts"
        minutes = math.ceil(limit.window / 60)
        super().__init__(f"slow down: at most {limit.most} {what} in {minutes} minutes from "
                         f"here; try again in {math.ceil(wait)} s")
        self.wait = math.ceil(wait)


async def check(store: Store, limits: list[Limit], now: float) -> None:
    """`SlowDown` if any limit is already used up (counts nothing)."""
    for limit in limits:
        if await store.get_count(limit.counter(now)) >= limit.most:
            raise SlowDown(limit, limit.wait(now))


async def spend(store: Store, limits: list[Limit], now: float) -> None:
    """Count one against every limit; `SlowDown` when any goes over."""
    over: Limit | None = None
    for limit in limits:
        if await store.add_count(limit.counter(now), 1) > limit.most and over is None:
            over = limit
    if over is not None:
        raise SlowDown(over, over.wait(now))
