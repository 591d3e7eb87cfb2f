"""The Bluesky source: Jetstream's posts and reposts, matched against the event's hashtags,
with their authors' profiles read off the stream's path."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import websockets
from websockets.asyncio.client import ClientConnection, connect

from moderation.post import Author, Post, Status
from moderation.store import Store, StoreError
from server.sources.base import (
    HTTP,
    RATE_LIMITED,
    BackoffPolicy,
    Fatal,
    Retry,
    Sink,
    SourceCursor,
    StreamingSource,
)
from server.sources.bluesky.compression import FrameDecompressor, shipped_dictionary
from server.sources.bluesky.events import POST, REPOST, Commit, Identity, Operation
from server.sources.bluesky.exceptions import MalformedFrame
from server.sources.bluesky.health import HostStats
from server.sources.bluesky.matcher import HashtagMatcher
from server.sources.bluesky.normalise import (
    NETWORK,
    fallback_author,
    id_of,
    normalise_post,
    normalise_repost,
    repost_subject,
    version_id,
)
from server.sources.bluesky.position import StreamPosition
from server.sources.bluesky.profiles import AppView, Profile, ProfileCache, ProfileResolver
from server.sources.bluesky.protocol import JetstreamProtocol, JetstreamV1

logger = logging.getLogger(__name__)

COLLECTIONS = (POST, REPOST)
# Jetstream reconnects: at once after a drop, then 0.5 s more each time up to 10 s.
JETSTREAM_BACKOFF = BackoffPolicy(network_step=0.5, network_max=10.0, http_start=1.0,
                                  http_max=60.0, rate_limit_start=5.0)
# Matched posts remembered, so that reposts count toward them and deletes take them back.
REMEMBERED = 20_000
# Posts waiting for their author's profile, at most; past that one is queued at once.
MAX_WAITING = 5_000
MAX_FRAME = 2 * 1024 * 1024
# Posts of each status read back from the store after a restart.
RECALLED = 5_000
# How long a post queued without its author's profile keeps waiting for it.
RECHECK = 600.0


@dataclass(frozen=True, slots=True)
class BlueskyConfig:
    """What the Bluesky source needs to know (from the settings)."""

    hosts: tuple[str, ...]
    appview_url: str
    plc_url: str
    hashtags: tuple[str, ...]
    dictionary: bytes | None = None
    compress: bool = True
    rewind_seconds: float = 5.0
    profile_wait: float = 10.0
    profile_cache_size: int = 10_000
    profile_cache_ttl: float = 3600.0
    stall_timeout: float | None = 60.0

    def decompressor(self) -> FrameDecompressor | None:
        """How frames are read: with compression on, as zstd frames made with `dictionary`
        (Jetstream's own when none is set); with it off, as plain JSON."""
        if not self.compress:
            return None
        return FrameDecompressor(self.dictionary or shipped_dictionary())


class BlueskySource(StreamingSource):
    """Follows the event's hashtags on Bluesky through one Jetstream host at a time,
    failing over to the next host when one cannot be reached."""

    name = "bluesky"
    KEY = "jetstream"

    def __init__(self, config: BlueskyConfig, sink: Sink, store: Store, *,
                 protocol: JetstreamProtocol | None = None, backoff_scale: float = 1.0) -> None:
        super().__init__(sink, policy=JETSTREAM_BACKOFF, stall_timeout=config.stall_timeout,
                         backoff_scale=backoff_scale)
        self.config = config
        self.store = store
        decompressor = config.decompressor()
        self.compress = decompressor is not None
        self.protocol = protocol or JetstreamV1(decompressor)
        self.matcher = HashtagMatcher(config.hashtags)
        self.cursor = SourceCursor(store, self.name, "time_us")
        self.position = StreamPosition(int(config.rewind_seconds * 1e6))
        self.hosts: dict[str, HostStats] = {host: HostStats() for host in config.hosts}
        self.host = config.hosts[0]
        self.cache = ProfileCache(config.profile_cache_size, config.profile_cache_ttl)
        self.handles: OrderedDict[str, str] = OrderedDict()
        # Matched posts: the ids of their versions; the newest version (reposts count
        # toward it); deleted ones, so a post deleted while waiting is never offered.
        self.matched: OrderedDict[str, list[str]] = OrderedDict()
        self.originals: OrderedDict[str, Post] = OrderedDict()
        self.deleted: OrderedDict[str, bool] = OrderedDict()
        self._pending: dict[str, asyncio.Task[None]] = {}
        self._watching: set[asyncio.Task[None]] = set()
        self.hidden_authors = 0
        self._waiting: dict[asyncio.Task[None], int] = {}
        self._session: aiohttp.ClientSession | None = None
        self._resolver: ProfileResolver | None = None
        self._resolver_task: asyncio.Task[None] | None = None
        self._ws: ClientConnection | None = None
        self._failed_connects = 0
        self._cursor_due = 0.0

    # -- lifecycle ------------------------------------------------------------------

    def keys(self) -> Sequence[str]:
        return (self.KEY,)

    async def prepare(self) -> None:
        saved = await self.cursor.load()
        if saved is not None and saved.isdigit() and self.position.last is None:
            self.position.last = int(saved)
            await self._recall()
        if self._session is None:
            self._session = aiohttp.ClientSession()
            appview = AppView(self._session, self.config.appview_url, self.config.plc_url)
            self._resolver = ProfileResolver(appview, self.cache)
            self._resolver_task = asyncio.create_task(self._resolver.run(),
                                                      name="bluesky:profiles")

    async def _recall(self) -> None:
        """After a restart, remember the Bluesky posts still pending or shown, so that their
        reposts, updates and deletes are linked to them again."""
        for status in (Status.PENDING, Status.APPROVED):
            try:
                items = await self.store.list_items(status, RECALLED)
            except StoreError as exc:
                logger.warning("bluesky: the posts queued before the restart were not read: %s",
                               exc)
                return
            for item in items:
                post, uri = item.post, item.post.extra.get("uri")
                if post.network != NETWORK or not isinstance(uri, str):
                    continue
                ids = self.matched.get(uri, [])
                if post.id not in ids:
                    self.matched[uri] = [*ids, post.id]
                self.originals[uri] = post

    async def stop(self) -> None:
        await super().stop()
        waiting = [*self._waiting, *self._watching]
        for task in waiting:
            task.cancel()
        if waiting:
            await asyncio.wait(waiting)
        if self._resolver_task is not None:
            self._resolver_task.cancel()
            await asyncio.wait([self._resolver_task])
            self._resolver_task = None
        await self._save_cursor(force=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- the connection -------------------------------------------------------------

    async def connect(self, key: str) -> None:
        if self._failed_connects and len(self.config.hosts) > 1:
            index = self.config.hosts.index(self.host)
            self.host = self.config.hosts[(index + 1) % len(self.config.hosts)]
        url = self.protocol.subscribe_url(self.host, COLLECTIONS, self.position.resume_cursor(),
                                          self.compress)
        stats = self.hosts[self.host]
        try:
            self._ws = await connect(url, max_size=MAX_FRAME, open_timeout=10,
                                     ping_interval=20, ping_timeout=20)
        except websockets.InvalidStatus as exc:
            self._failed(stats, f"{self.host} answered HTTP {exc.response.status_code}")
            code = exc.response.status_code
            raise Retry(f"{self.host} answered HTTP {code}",
                        RATE_LIMITED if code == 429 else HTTP) from None
        except websockets.InvalidURI as exc:
            raise Fatal(f"HASHWALL_BLUESKY_JETSTREAM_URL: expected a ws:// or wss:// URL, "
                        f"got {exc.uri!r}") from None
        except (OSError, TimeoutError, websockets.InvalidHandshake) as exc:
            self._failed(stats, f"{self.host}: {type(exc).__name__}: {exc}")
            raise Retry(f"cannot reach {self.host}: {type(exc).__name__}: {exc}") from None
        self._failed_connects = 0
        stats.connected = True
        stats.connects += 1
        stats.last_error = None
        logger.info("bluesky: reading %s", url)

    def _failed(self, stats: HostStats, error: str) -> None:
        self._failed_connects += 1
        stats.last_error = error

    async def read(self, key: str) -> AsyncIterator[Any]:
        assert self._ws is not None
        try:
            async for frame in self._ws:
                yield frame
        except websockets.ConnectionClosedError as exc:
            raise Retry(f"{self.host} dropped the connection ({exc})") from None

    async def disconnect(self, key: str) -> None:
        stats = self.hosts[self.host]
        stats.connected = False
        if self._ws is not None:
            await self._ws.close()
            self._ws = None
        await self._save_cursor(force=True)

    # -- events ---------------------------------------------------------------------

    async def handle(self, key: str, item: Any) -> None:
        stats = self.hosts[self.host]
        try:
            event = self.protocol.parse(item)
        except MalformedFrame as exc:
            stats.malformed += 1
            self.note_error(key, str(exc))
            return
        stats.seen += 1
        stats.seen_rate.add()
        stats.last_time_us = event.time_us
        if not self.position.first_time(event):
            return
        if isinstance(event, Commit):
            await self._commit(stats, event)
        elif isinstance(event, Identity) and event.handle:
            self._remember(self.handles, event.did, event.handle, 100_000)
            self.cache.rename(event.did, event.handle)
        if time.monotonic() >= self._cursor_due:
            self._cursor_due = time.monotonic() + self.cursor.interval
            await self._save_cursor()

    async def _commit(self, stats: HostStats, commit: Commit) -> None:
        if commit.collection == POST:
            if commit.operation is Operation.DELETE:
                ids = self.matched.pop(commit.uri, None)
                if ids is not None:
                    self._remember(self.deleted, commit.uri, True, REMEMBERED)
                    self.originals.pop(commit.uri, None)
                    for post_id in ids:
                        await self.sink.retract(post_id, "deleted on Bluesky")
                return
            assert commit.record is not None
            edit = commit.operation is Operation.UPDATE and commit.uri in self.matched
            if edit or self.matcher.matches(commit.record):
                stats.matched += 1
                stats.matched_rate.add()
                ids = self.matched.get(commit.uri, [])
                post_id = version_id(commit.uri, commit.cid) if edit else id_of(commit.uri)
                if post_id in ids:
                    return  # the same version again
                self._remember(self.matched, commit.uri, [*ids, post_id], REMEMBERED)
                await self._with_author(commit, edit)
        elif commit.collection == REPOST and commit.operation is Operation.CREATE:
            subject = repost_subject(commit.record) or ""
            if subject not in self.matched:
                return
            stats.matched += 1
            stats.matched_rate.add()
            waiting = self._pending.get(subject)
            if waiting is not None:
                task = asyncio.create_task(self._repost_after(commit, subject, waiting))
                self._waiting[task] = commit.time_us
                task.add_done_callback(self._done_waiting)
            else:
                await self._repost(commit, subject)

    def _done_waiting(self, task: asyncio.Task[None]) -> None:
        self._waiting.pop(task, None)
        self.changed()

    async def _repost_after(self, commit: Commit, subject: str,
                            original: asyncio.Task[None]) -> None:
        await asyncio.wait([original])
        await self._repost(commit, subject)

    async def _repost(self, commit: Commit, subject: str) -> None:
        original = self.originals.get(subject)
        if original is not None:
            author = fallback_author(commit.did, self.handles.get(commit.did))
            await self.sink.offer(normalise_repost(commit, author, original))

    async def _with_author(self, commit: Commit, edit: bool) -> None:
        """Offer the post now when its author's profile is known, else once it arrives."""
        assert self._resolver is not None
        known, profile = self._resolver.cached(commit.did)
        before = self._pending.get(commit.uri)
        if before is None and (known or len(self._waiting) >= MAX_WAITING):
            await self._offer(commit, edit, profile)
            return
        future = self._resolver.request(commit.did)
        task = asyncio.create_task(self._offer_when_known(commit, edit, future, before))
        self._waiting[task] = commit.time_us
        self._pending[commit.uri] = task

        def done(task: asyncio.Task[None]) -> None:
            self._waiting.pop(task, None)
            if self._pending.get(commit.uri) is task:
                del self._pending[commit.uri]
            self.changed()

        task.add_done_callback(done)

    async def _offer_when_known(self, commit: Commit, edit: bool,
                                future: asyncio.Future[Profile | None],
                                before: asyncio.Task[None] | None) -> None:
        try:
            if before is not None:
                await asyncio.wait([before])  # an update waits for the version it edits
            await asyncio.wait([future], timeout=self.config.profile_wait)
            if future.done():
                await self._offer(commit, edit, future.result())
                return
            await self._offer(commit, edit, None)
            # Queued without its profile: should the profile, once read, say the author
            # asked not to be shown to logged-out viewers, the post is taken back.
            watch = asyncio.create_task(self._recheck(commit, future))
            self._watching.add(watch)
            watch.add_done_callback(self._watching.discard)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("bluesky: post %s could not be offered", commit.uri)

    async def _recheck(self, commit: Commit, future: asyncio.Future[Profile | None]) -> None:
        await asyncio.wait([future], timeout=RECHECK)
        profile = future.result() if future.done() else None
        if profile is not None and profile.hidden:
            self.hidden_authors += 1
            for post_id in self.matched.pop(commit.uri, ()):
                await self.sink.retract(post_id, "its author is not shown to logged-out viewers")
            self.changed()

    async def _offer(self, commit: Commit, edit: bool, profile: Profile | None) -> None:
        if commit.uri in self.deleted:
            return  # deleted while its author's profile was being read
        if profile is not None and profile.hidden:
            self.hidden_authors += 1  # asked not to be shown to logged-out viewers
            self.matched.pop(commit.uri, None)
            return
        author = profile.author() if profile is not None else await self._fallback(commit.did)
        post = normalise_post(commit, author, edit=edit)
        self._remember(self.originals, commit.uri, post, REMEMBERED)
        await self.sink.offer(post)

    async def _fallback(self, did: str) -> Author:
        handle = self.handles.get(did)
        if handle is None and self._resolver is not None:
            try:
                async with asyncio.timeout(3):
                    handle = await self._resolver.appview.handle_in_did_document(did)
            except TimeoutError:
                handle = None
        return fallback_author(did, handle)

    async def _save_cursor(self, force: bool = False) -> None:
        """Save the newest time_us handled, but never past a post still waiting."""
        last = self.position.last
        if last is None:
            return
        if self._waiting:
            last = min(last, min(self._waiting.values()) - 1)
        if force:
            await self.cursor.save(str(last))
        else:
            await self.cursor.note(str(last))

    @staticmethod
    def _remember(memory: OrderedDict[str, Any], key: str, value: Any, size: int) -> None:
        memory[key] = value
        memory.move_to_end(key)
        if len(memory) > size:
            memory.popitem(last=False)

    # -- health ---------------------------------------------------------------------

    def extra_health(self) -> dict[str, Any]:
        hosts = {host: stats.to_dict() for host, stats in self.hosts.items()}
        lags = [h["lag_seconds"] for h in hosts.values() if h["lag_seconds"] is not None]
        return {
            "host": self.host,
            "hosts": hosts,
            "compressed": self.compress,
            "position_time_us": self.position.last,
            "profiles": {
                "cache_hits": self.cache.hits,
                "cache_misses": self.cache.misses,
                "cached": len(self.cache),
                "waiting_posts": len(self._waiting),
                "hidden_authors": self.hidden_authors,
                "appview_failures": self._resolver.failures if self._resolver else 0,
                "appview_error": self._resolver.last_error if self._resolver else None,
            },
            "metrics": {
                "bluesky_lag_seconds": lags[0] if len(lags) == 1 else max(lags, default=0.0),
                "bluesky_events_per_second": sum(h["events_per_second"] for h in hosts.values()),
                "bluesky_matched_per_second": sum(h["matched_per_second"]
                                                  for h in hosts.values()),
                "bluesky_events_seen": sum(h["events_seen"] for h in hosts.values()),
                "bluesky_events_matched": sum(h["events_matched"] for h in hosts.values()),
                "bluesky_profile_cache_hits": self.cache.hits,
                "bluesky_profile_cache_misses": self.cache.misses,
            },
        }

