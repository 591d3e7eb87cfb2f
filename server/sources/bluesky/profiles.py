"""Who wrote a post: profiles from the public AppView, read in batches, kept in a bounded,
expiring cache, resolved off the stream's path."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from moderation.post import Author
from server.sources.bluesky.exceptions import AppViewError

logger = logging.getLogger(__name__)

# app.bsky.actor.getProfiles takes at most 25 actors a call.
BATCH = 25
NO_UNAUTHENTICATED = "!no-unauthenticated"


@dataclass(frozen=True, slots=True)
class Profile:
    """What the AppView says about an account."""

    did: str
    handle: str
    display_name: str = ""
    avatar: str | None = None
    labels: tuple[str, ...] = ()

    @property
    def hidden(self) -> bool:
        """Whether the account asked not to be shown to logged-out viewers."""
        return NO_UNAUTHENTICATED in self.labels

    def author(self) -> Author:
        """The post author this profile describes."""
        return Author(id=self.did, handle=self.handle, name=self.display_name or self.handle,
                      avatar_url=self.avatar)


def profile_from_view(view: Any) -> Profile | None:
    """A Profile from an `app.bsky.actor.defs#profileViewDetailed`, or None if it is not one."""
    if not isinstance(view, dict):
        return None
    did, handle = view.get("did"), view.get("handle")
    if not isinstance(did, str) or not isinstance(handle, str):
        return None
    name, avatar = view.get("displayName"), view.get("avatar")
    labels = tuple(label["val"] for label in view.get("labels") or ()
                   if isinstance(label, dict) and isinstance(label.get("val"), str))
    return Profile(did, handle, name if isinstance(name, str) else "",
                   avatar if isinstance(avatar, str) and avatar.startswith("https://") else None,
                   labels)


class ProfileCache:
    """At most `size` profiles, each forgotten `ttl` seconds after it was read."""

    def __init__(self, size: int = 10_000, ttl: float = 3600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.size, self.ttl, self.clock = size, ttl, clock
        self._items: OrderedDict[str, tuple[float, Profile | None]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def lookup(self, did: str) -> tuple[bool, Profile | None]:
        """(known, profile): known with None means the AppView has no such account."""
        entry = self._items.get(did)
        if entry is None or entry[0] < self.clock():
            if entry is not None:
                del self._items[did]
            self.misses += 1
            return False, None
        self._items.move_to_end(did)
        self.hits += 1
        return True, entry[1]

    def put(self, did: str, profile: Profile | None) -> None:
        """Remember what the AppView said about `did` (None: no such account)."""
        self._items[did] = (self.clock() + self.ttl, profile)
        self._items.move_to_end(did)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def rename(self, did: str, handle: str) -> None:
        """Give a cached profile the new handle an identity event announced."""
        entry = self._items.get(did)
        if entry is not None and entry[1] is not None:
            self._items[did] = (entry[0], dataclasses.replace(entry[1], handle=handle))

    def __len__(self) -> int:
        return len(self._items)


class AppView:
    """The public AppView's `app.bsky.actor.getProfiles`, and the PLC directory's DID
    documents for the handle of an account whose profile cannot be read."""

    def __init__(self, session: aiohttp.ClientSession, url: str, plc_url: str,
                 timeout: float = 10.0) -> None:
        self.session, self.url, self.plc_url = session, url.rstrip("/"), plc_url.rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    async def get_profiles(self, dids: list[str]) -> dict[str, Profile]:
        """The profiles of up to 25 accounts; accounts the AppView does not know are absent."""
        if not 0 < len(dids) <= BATCH:
            raise ValueError(f"expected 1 to {BATCH} actors, got {len(dids)}")
        url = f"{self.url}/xrpc/app.bsky.actor.getProfiles"
        try:
            async with self.session.get(url, params=[("actors", d) for d in dids],
                                        timeout=self.timeout) as response:
                body = await response.json(content_type=None)
                status = response.status
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise AppViewError(f"expected profiles from {url}, got {exc!r}") from None
        if status != 200 or not isinstance(body, dict) or not isinstance(
                body.get("profiles"), list):
            detail = body.get("message") if isinstance(body, dict) else None
            raise AppViewError(f"expected 200 and a profile list from {url}, got {status}"
                               + (f": {detail}" if detail else ""))
        found = (profile_from_view(view) for view in body["profiles"])
        return {p.did: p for p in found if p is not None}

    async def handle_in_did_document(self, did: str) -> str | None:
        """The handle a did:plc document names (`alsoKnownAs` `at://<handle>`), or None."""
        if not did.startswith("did:plc:"):
            return None
        try:
            async with self.session.get(f"{self.plc_url}/{did}", timeout=self.timeout) as response:
                if response.status != 200:
                    return None
                doc = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return None
        aliases = doc.get("alsoKnownAs") if isinstance(doc, dict) else None
        for alias in aliases or ():
            if isinstance(alias, str) and alias.startswith("at://"):
                return alias.removeprefix("at://")
        return None


class ProfileResolver:
    """Reads the profiles asked for, BATCH at a time, in its own task; the stream only asks.

    A failing AppView is retried with growing pauses; whoever waits for a profile decides
    how long to wait.
    """

    def __init__(self, appview: AppView, cache: ProfileCache, *, retry_max: float = 30.0) -> None:
        self.appview, self.cache, self.retry_max = appview, cache, retry_max
        self._waiting: dict[str, asyncio.Future[Profile | None]] = {}
        self._wake = asyncio.Event()
        self.failures = 0
        self.last_error: str | None = None

    def cached(self, did: str) -> tuple[bool, Profile | None]:
        """(known, profile) from the cache, counting a hit or a miss."""
        return self.cache.lookup(did)

    def request(self, did: str) -> asyncio.Future[Profile | None]:
        """A future of `did`'s profile (None: the AppView does not know the account)."""
        future = self._waiting.get(did)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._waiting[did] = future
            self._wake.set()
        return future

    async def run(self) -> None:
        """Read profiles as they are asked for, until cancelled."""
        pause = 0.5
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._waiting:
                batch = [did for did, f in self._waiting.items() if not f.done()][:BATCH]
                for did in [d for d, f in self._waiting.items() if f.done()]:
                    del self._waiting[did]  # nobody waits for it any more
                if not batch:
                    break
                try:
                    found = await self.appview.get_profiles(batch)
                except AppViewError as exc:
                    self.failures += 1
                    self.last_error = str(exc)
                    logger.warning("profiles not read, retrying in %.1f s: %s", pause, exc)
                    await asyncio.sleep(pause)
                    pause = min(pause * 2, self.retry_max)
                    continue
                except Exception:
                    logger.exception("profiles not read")
                    await asyncio.sleep(pause)
                    pause = min(pause * 2, self.retry_max)
                    continue
                pause = 0.5
                self.last_error = None
                for did in batch:
                    profile = found.get(did)
                    self.cache.put(did, profile)
                    future = self._waiting.pop(did, None)
                    if future is not None and not future.done():
                        future.set_result(profile)
