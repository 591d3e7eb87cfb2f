"""`hashwall bluesky check`: reach a Jetstream host, count what matches for a few seconds,
read one profile from the AppView, and say what was seen."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import websockets
from websockets.asyncio.client import connect

from server.sources.bluesky.events import POST, Commit
from server.sources.bluesky.exceptions import BlueskyError
from server.sources.bluesky.matcher import HashtagMatcher
from server.sources.bluesky.profiles import AppView
from server.sources.bluesky.protocol import JetstreamV1
from server.sources.bluesky.source import COLLECTIONS, MAX_FRAME, BlueskyConfig


async def check(config: BlueskyConfig, seconds: float, say: Callable[[str], None]) -> int:
    """0 when a host streamed events and a profile was read, else 1; reports through `say`."""
    decompressor = config.decompressor()
    compress = decompressor is not None
    protocol = JetstreamV1(decompressor)
    matcher = HashtagMatcher(config.hashtags)
    for host in config.hosts:
        url = protocol.subscribe_url(host, COLLECTIONS, None, compress)
        try:
            seen = await _count(url, protocol, matcher, seconds)
        except (OSError, TimeoutError, websockets.WebSocketException) as exc:
            say(f"{host}: not reachable ({type(exc).__name__}: {exc})")
            continue
        say(f"{host}: connected{' (zstd)' if compress else ''}; {seen['events']} events in "
            f"{seconds:g} s, {seen['posts']} posts, {seen['matched']} matching "
            f"{', '.join(config.hashtags)}")
        did = seen["matched_did"] or seen["post_did"]
        if did is None:
            say("no post arrived to read a profile for")
            return 1
        return await _profile(config, did, say)
    say("no Jetstream host could be reached")
    return 1


async def _count(url: str, protocol: JetstreamV1, matcher: HashtagMatcher,
                 seconds: float) -> dict[str, Any]:
    seen: dict[str, Any] = {"events": 0, "posts": 0, "matched": 0, "matched_did": None,
                            "post_did": None}
    async with connect(url, max_size=MAX_FRAME, open_timeout=10) as ws:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                frame = await asyncio.wait_for(ws.recv(), left)
            except TimeoutError:
                break
            try:
                event = protocol.parse(frame)
            except BlueskyError:
                continue
            seen["events"] += 1
            if isinstance(event, Commit) and event.collection == POST and event.record:
                seen["posts"] += 1
                seen["post_did"] = seen["post_did"] or event.did
                if matcher.matches(event.record):
                    seen["matched"] += 1
                    seen["matched_did"] = seen["matched_did"] or event.did
    return seen


async def _profile(config: BlueskyConfig, did: str, say: Callable[[str], None]) -> int:
    async with aiohttp.ClientSession() as session:
        appview = AppView(session, config.appview_url, config.plc_url)
        try:
            profiles = await appview.get_profiles([did])
        except BlueskyError as exc:
            say(f"{config.appview_url}: {exc}")
            return 1
    profile = profiles.get(did)
    if profile is None:
        say(f"{config.appview_url}: no profile for {did}")
        return 1
    shown = "hidden from logged-out viewers" if profile.hidden else "shown"
    say(f"{config.appview_url}: {did} is @{profile.handle} ({profile.display_name or '-'}), "
        f"{shown}")
    return 0
