"""Follow the event's hashtags on the X API v2 filtered stream: keep the wall's rules in
place, hand each new post to the sink, count the reads X bills."""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import aiohttp
from tweepy.errors import HTTPException, TooManyRequests

from moderation import jsoncodec
from moderation.exceptions import MalformedPayload
from moderation.store import Store
from server.sources.base import (
    HTTP,
    NETWORK,
    RATE_LIMITED,
    X_BACKOFF,
    Fatal,
    Retry,
    Sink,
    StreamingSource,
)
from server.sources.x.budget import EXHAUSTED, PRICE_PER_READ, WARNING, ReadCounter
from server.sources.x.client import (
    DEFAULT_API_URL,
    StreamHTTPError,
    XStream,
    XStreamingClient,
    retry_after,
)
from server.sources.x.normalise import normalise_stream_item
from server.sources.x.rules import (
    DEFAULT_TAG_PREFIX,
    MAX_RULE_LENGTH,
    XAuthError,
    XRuleError,
    build_rules,
    describe_http_error,
    sync_rules,
)

logger = logging.getLogger(__name__)

# X sends a keep-alive (an empty line) every 20 s, often a little later. Its docs say to
# reconnect after 20 s of silence, which drops a quiet, healthy stream whenever a keep-alive
# is late; three intervals, the rule X gave for its earlier stream, tolerate a late or lost
# keep-alive and still find a dead connection within a minute (HASHWALL_X_STALL_TIMEOUT).
KEEP_ALIVE_INTERVAL = 20.0
STALL_TIMEOUT = 3 * KEEP_ALIVE_INTERVAL
DEDUPE_SIZE = 10_000


class RecentIds:
    """The last `size` post ids seen, oldest forgotten first."""

    def __init__(self, size: int = DEDUPE_SIZE) -> None:
        self.size = size
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, post_id: object) -> bool:
        return post_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, post_id: str) -> None:
        """Remember an id, forgetting the oldest beyond the size."""
        self._ids[post_id] = None
        self._ids.move_to_end(post_id)
        while len(self._ids) > self.size:
            self._ids.popitem(last=False)


class XSource(StreamingSource):
    """The X filtered stream as a source: rules synced before connecting, X's documented
    backoffs, a stop for good on a refused token or rule, and at the monthly read budget."""

    name = "x"

    def __init__(
        self,
        bearer_token: str,
        api_url: str = DEFAULT_API_URL,
        hashtags: Sequence[str] = (),
        sink: Sink | None = None,
        rule_tag_prefix: str = DEFAULT_TAG_PREFIX,
        *,
        store: Store | None = None,
        exclude_retweets: bool = False,
        max_rule_length: int = MAX_RULE_LENGTH,
        stall_timeout: float = STALL_TIMEOUT,
        backoff_scale: float = 1.0,
        dedupe_size: int = DEDUPE_SIZE,
        read_budget: int | None = None,
        price_per_read: float = PRICE_PER_READ,
    ) -> None:
        if sink is None:
            raise ValueError("Expected a sink for the posts, but got None")
        super().__init__(sink, policy=X_BACKOFF, stall_timeout=stall_timeout,
                         backoff_scale=backoff_scale)
        self.api_url = api_url.rstrip("/")
        self.rule_tag_prefix = rule_tag_prefix
        self.rules = build_rules(hashtags, tag_prefix=rule_tag_prefix,
                                 exclude_retweets=exclude_retweets, max_length=max_rule_length)
        if not self.rules:
            raise ValueError("Expected at least one hashtag to follow, but got none")
        self.reads = ReadCounter(store, read_budget, price_per_read)
        self._client = XStreamingClient(bearer_token, api_url=self.api_url)
        self._stream = XStream(bearer_token, self.api_url, user_agent=self._client.user_agent)
        self._seen = RecentIds(dedupe_size)
        self._rules_synced = False
        self._active_rules: list[str] = []
        self._warned: str | None = None  # the month moderators were warned of
        self._posts = 0
        self._duplicates = 0
        self._malformed = 0

    def extra_health(self) -> dict[str, Any]:
        reading = self.reads.reading()
        return {
            "posts_received": self._posts,
            "duplicates_dropped": self._duplicates,
            "malformed_items": self._malformed,
            "rules": list(self._active_rules),
            "read_budget": reading.to_dict(),
            "metrics": {"reads_this_month": reading.reads,
                        "read_cost_usd_this_month": reading.cost,
                        **({"read_budget": reading.budget} if reading.budget else {})},
        }

    # -- the streaming base's hooks ------------------------------------------------------

    async def prepare(self) -> None:
        self._rules_synced = False
        try:
            await self.reads.load()
        except Exception:
            logger.exception("could not read this month's X reads from the store")

    async def connect(self, key: str) -> None:
        reading = self.reads.reading()
        if reading.state == EXHAUSTED:
            raise Fatal(reading.reason(), state="budget_exhausted")
        try:
            if not self._rules_synced:
                result = await sync_rules(self._client, self.rules, self.rule_tag_prefix)
                self._active_rules = [rule.value for rule in result.active]
                self._rules_synced = True
            await self._stream.open()
        except (XAuthError, XRuleError) as exc:
            raise Fatal(str(exc)) from exc
        except StreamHTTPError as exc:  # 409: the rules vanished; put them back first
            self._rules_synced = False
            raise Retry(str(exc), NETWORK) from exc
        except TooManyRequests as exc:
            raise Retry(describe_http_error(exc), RATE_LIMITED,
                        retry_after(getattr(exc.response, "headers", None))) from exc
        except HTTPException as exc:
            raise Retry(describe_http_error(exc), HTTP) from exc
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise Retry(f"connection error: {type(exc).__name__}: {exc}", NETWORK) from exc
        logger.info("X stream connected to %s", self.api_url)

    def read(self, key: str) -> Any:
        return self._stream.lines()

    async def disconnect(self, key: str) -> None:
        await self._stream.close()

    async def stop(self) -> None:
        await super().stop()
        await self._stream.close()
        try:
            await self.reads.close()
        except Exception:
            logger.exception("could not write the X reads counted to the store")

    async def handle(self, key: str, item: Any) -> None:
        """Normalise one stream line and hand a new post to the sink; never raise, except
        to reconnect (operational-disconnect) or stop at the read budget."""
        try:
            parsed = jsoncodec.loads(item)
        except ValueError:
            self._skip(key, f"a stream line that is not JSON: {item[:120]!r}")
            return
        if isinstance(parsed, dict) and "data" not in parsed and parsed.get("errors"):
            self._on_errors(key, parsed["errors"])
            return
        await self._count_read()
        try:
            post = normalise_stream_item(parsed)
        except MalformedPayload as exc:
            self._skip(key, str(exc))
            return
        if post.id in self._seen:
            self._duplicates += 1
        else:
            try:
                await self.sink.offer(post)
            except Exception as exc:
                logger.exception("The sink failed on post %s", post.id)
                self.note_error(key, f"sink failed on {post.id}: {type(exc).__name__}: {exc}")
            else:
                self._seen.add(post.id)
                self._posts += 1
        reading = self.reads.reading()
        if reading.state == EXHAUSTED:
            logger.error("%s: the X stream stops", reading.reason())
            await self.finish("budget_exhausted", reading.reason())

    # -- X's own ---------------------------------------------------------------------------

    async def _count_read(self) -> None:
        """Count one post X sent (and bills); warn once a month from WARNING_SHARE."""
        try:
            reading = await self.reads.add(1)
        except Exception:
            logger.exception("could not count an X read in the store")
            reading = self.reads.reading()
        if reading.state == WARNING and self._warned != reading.month:
            self._warned = reading.month
            logger.warning("%s", reading.reason())

    def _on_errors(self, key: str, errors: Any) -> None:
        """An error-only item: reconnect on operational-disconnect, report the rest."""
        errors = errors if isinstance(errors, list) else [errors]
        for error in errors:
            kind = str(error.get("type", "")) if isinstance(error, dict) else ""
            title = str(error.get("title", "")) if isinstance(error, dict) else ""
            if kind.endswith("/operational-disconnect") or title == "operational-disconnect":
                raise Retry(f"operational-disconnect: {error.get('detail', '')}", NETWORK)
        logger.warning("X stream sent errors: %s", errors)
        self.note_error(key, f"X sent errors: {json.dumps(errors)[:300]}")

    def _skip(self, key: str, why: str) -> None:
        self._malformed += 1
        logger.warning("X stream: skipped %s", why)
        self.note_error(key, f"skipped {why}")
