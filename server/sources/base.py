"""What every source shares: the Sink it hands posts to, the Source protocol, backoff
policies as data, the health fields, cursors, and a streaming base owning the
connect → read → stall detection → backoff → reconnect loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from moderation.post import Post
from moderation.store import Store

logger = logging.getLogger(__name__)


class Sink(Protocol):
    """What the pipeline offers a source."""

    async def offer(self, post: Post) -> None:
        """Hand a post on to be queued in arrival order; an edit is a post with `edit_of`."""

    async def retract(self, post_id: str, reason: str) -> None:
        """Take back a post its author deleted on its network: shown → hidden from every
        screen, pending → rejected; audited with the network as actor and `reason`; an
        unknown id is ignored."""


class Source(Protocol):
    """A producer of posts that runs in the background."""

    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def health(self) -> dict[str, Any]: ...


# -- backoff --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    """How long to wait before reconnecting, by kind of failure, in seconds.

    Network errors (a drop, a refused connection, a stall) wait `network_start`, then
    `network_step` more each attempt up to `network_max`. HTTP errors wait `http_start`,
    doubling up to `http_max`. A rate limit waits at least `rate_limit_start`, doubling up to
    `http_max`; with `honour_retry_after` a server's Retry-After is waited when longer (up to
    `retry_after_max`).
    """

    network_step: float
    network_max: float
    http_start: float
    http_max: float
    rate_limit_start: float
    network_start: float = 0.0
    honour_retry_after: bool = True
    retry_after_max: float = 3600.0


# X's documented reconnect waits (docs.x.com, "Handling disconnections" of the filtered
# stream): network errors back off linearly by 250 ms up to 16 s, HTTP errors exponentially
# from 5 s up to 320 s, HTTP 429 exponentially from 1 minute.
X_BACKOFF = BackoffPolicy(network_step=0.25, network_max=16.0, http_start=5.0, http_max=320.0,
                          rate_limit_start=60.0)


class Backoff:
    """A running `BackoffPolicy`: each call gives the next nominal wait; `reset` forgets.
    `scale` multiplies the waits actually slept (tests shrink it); the nominal waits do not
    change."""

    def __init__(self, policy: BackoffPolicy = X_BACKOFF, scale: float = 1.0) -> None:
        self.policy = policy
        self.scale = scale
        self.reset()

    def reset(self) -> None:
        """Forget past failures."""
        self._network: float | None = None
        self._http: float | None = None

    def network(self) -> float:
        """The nominal wait after a network error, a drop or a stall."""
        p = self.policy
        self._network = p.network_start if self._network is None else (
            self._network + p.network_step)
        self._network = min(self._network, p.network_max)
        return self._network

    def http_error(self) -> float:
        """The nominal wait after an HTTP error other than a rate limit."""
        p = self.policy
        self._http = p.http_start if self._http is None else self._http * 2
        self._http = min(self._http, p.http_max)
        return self._http

    def rate_limited(self, retry_after: float | None = None) -> float:
        """The nominal wait after a rate limit; a longer Retry-After wins when honoured."""
        p = self.policy
        current = p.rate_limit_start if self._http is None else self._http * 2
        self._http = min(max(current, p.rate_limit_start), p.http_max)
        if retry_after is not None and p.honour_retry_after:
            return max(self._http, min(retry_after, p.retry_after_max))
        return self._http

    def after(self, kind: str, retry_after: float | None = None) -> float:
        """The nominal wait after a failure of `kind`: network, http or rate_limited."""
        if kind == RATE_LIMITED:
            return self.rate_limited(retry_after)
        wait = self.http_error() if kind == HTTP else self.network()
        if retry_after is not None and self.policy.honour_retry_after:
            wait = max(wait, min(retry_after, self.policy.retry_after_max))
        return wait


NETWORK = "network"
HTTP = "http"
RATE_LIMITED = "rate_limited"


class SourceError(Exception):
    """A source's connection failed; the streaming base decides what happens next."""


class Retry(SourceError):
    """A failure worth retrying after the policy's wait for `kind` (network, http,
    rate_limited), or after `retry_after` seconds when the server said so."""

    def __init__(self, message: str, kind: str = NETWORK, retry_after: float | None = None,
                 ) -> None:
        super().__init__(message)
        self.kind = kind
        self.retry_after = retry_after


class Fatal(SourceError):
    """A failure retrying cannot help (a refused token): the source stops for good in
    `state` ("failed" unless told), saying `message` everywhere."""

    def __init__(self, message: str, state: str = "failed") -> None:
        super().__init__(message)
        self.state = state


# -- health ---------------------------------------------------------------------------

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
            "last_error": self.last_error,
            "retry_in": self.retry_in,
        }


# The generic fields every source's health() carries (docs/architecture.md).
HEALTH_FIELDS = ("ok", "state", "connected_since", "last_item_at", "last_keep_alive",
                 "reconnects", "items_received", "last_error")


def combined(name: str, parts: dict[str, Health]) -> dict[str, Any]:
    """One source's health from its connections': the sums, the newest moments, the worst
    state; each connection's own under `connections` when there are several."""
    values = list(parts.values())
    if not values:
        return {**Health().to_dict(), "source": name}
    if len(values) == 1:
        return {**values[0].to_dict(), "source": name}
    order = [FAILED, CONNECTED, BACKING_OFF, CONNECTING]
    states = {h.state for h in values}
    state = next((s for s in order if s in states), values[0].state)

    def newest(moments: list[datetime | None]) -> str | None:
        known = [m for m in moments if m is not None]
        return iso(max(known)) if known else None

    def oldest(moments: list[datetime | None]) -> str | None:
        known = [m for m in moments if m is not None]
        return iso(min(known)) if known else None

    errors = [h.last_error for h in values if h.last_error]
    return {
        "ok": all(h.ok for h in values),
        "source": name,
        "state": state,
        "connected": any(h.connected_since is not None for h in values),
        "connected_since": oldest([h.connected_since for h in values]),
        "last_item_at": newest([h.last_item_at for h in values]),
        "last_keep_alive": newest([h.last_keep_alive for h in values]),
        "reconnects": sum(h.reconnects for h in values),
        "items_received": sum(h.items_received for h in values),
        "last_error": errors[-1] if errors else None,
        "retry_in": None,
        "connections": {key: h.to_dict() for key, h in parts.items()},
    }


# -- cursors --------------------------------------------------------------------------


class SourceCursor:
    """Where a source's connection `key` resumes after a restart, kept in the store.

    `note(value)` remembers the newest position and writes it at most every `interval`
    seconds; `flush()` writes what was noted and not written yet (call it when stopping).
    """

    def __init__(self, store: Store, source: str, key: str = "", interval: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.source = source
        self.key = key
        self.interval = interval
        self.clock = clock
        self._noted: str | None = None
        self._saved: str | None = None
        self._saved_at = float("-inf")

    async def load(self) -> str | None:
        """The saved position, or None when there is none."""
        self._saved = await self.store.get_cursor(self.source, self.key)
        return self._saved

    async def save(self, value: str) -> None:
        """Write `value` now."""
        await self.store.set_cursor(self.source, self.key, value)
        self._saved, self._noted, self._saved_at = value, None, self.clock()

    async def note(self, value: str) -> None:
        """Remember `value`; write it when the last write is `interval` old."""
        self._noted = value
        if self.clock() - self._saved_at >= self.interval:
            await self.save(value)

    async def flush(self) -> None:
        """Write the last noted position if it was not written yet."""
        if self._noted is not None and self._noted != self._saved:
            await self.save(self._noted)


# -- the streaming base ---------------------------------------------------------------


class KeepAlive:
    """What `read` yields for a keep-alive: the connection is alive, nothing arrived."""

    def __repr__(self) -> str:
        return "KEEP_ALIVE"


KEEP_ALIVE = KeepAlive()

Sleep = Callable[[float], Awaitable[None]]


class StreamingSource:
    """A source reading one or several long-lived connections (one per `keys()` entry).

    Subclasses implement `connect(key)` (open the connection; raise `Retry` or `Fatal`),
    `read(key)` (an async iterator of raw items, or `KEEP_ALIVE`), `handle(key, item)` (turn
    one item into posts for `self.sink`) and, when something must be closed, `disconnect`.
    The base counts and times what arrives, drops a connection silent for `stall_timeout`
    seconds, reconnects after the policy's wait (reset once a connection delivers), honours
    a `Retry.retry_after`, and stops for good on `Fatal`. `sleep` is injectable (tests).
    """

    name: str = "source"

    def __init__(
        self,
        sink: Sink,
        *,
        policy: BackoffPolicy = X_BACKOFF,
        stall_timeout: float | None = None,
        backoff_scale: float = 1.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.sink = sink
        self.policy = policy
        self.stall_timeout = stall_timeout
        self.backoff_scale = backoff_scale
        self.sleep = sleep
        self.backoffs: dict[str, Backoff] = {}
        self.parts: dict[str, Health] = {}
        self.history: deque[dict[str, Any]] = deque(maxlen=200)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._changed = asyncio.Event()
        self._stopped_state: str | None = None

    # -- what subclasses implement --------------------------------------------------

    def keys(self) -> Sequence[str]:
        """The connections to keep open, by key (one, named "", unless overridden)."""
        return ("",)

    async def prepare(self) -> None:
        """Run once per start, before any connection (load cursors, check settings)."""

    async def connect(self, key: str) -> None:
        """Open connection `key`; raise `Retry` or `Fatal` when it cannot be opened."""
        raise NotImplementedError

    def read(self, key: str) -> AsyncIterator[Any]:
        """The items of connection `key` as they arrive (`KEEP_ALIVE` for a keep-alive);
        ends when the connection ends."""
        raise NotImplementedError

    async def handle(self, key: str, item: Any) -> None:
        """Turn one raw item into posts for the sink; an exception is logged and skipped."""
        raise NotImplementedError

    async def disconnect(self, key: str) -> None:
        """Close connection `key` (called after every connection, however it ended)."""

    def extra_health(self) -> dict[str, Any]:
        """Fields of this source's own, added to its health."""
        return {}

    # -- the Source protocol --------------------------------------------------------

    async def start(self) -> None:
        """Open every connection in the background (no-op for those already running)."""
        if self.running:
            return
        self._stopped_state = None
        await self.prepare()
        for key in self.keys():
            self.parts.setdefault(key, Health())
            self.backoffs.setdefault(key, Backoff(self.policy, self.backoff_scale))
            task = self._tasks.get(key)
            if task is None or task.done():
                self._set(key, CONNECTING)
                self._tasks[key] = asyncio.create_task(self._run(key),
                                                       name=f"{self.name}:{key}")

    async def stop(self) -> None:
        """Close every connection; safe at any time, repeatedly."""
        tasks, self._tasks = list(self._tasks.values()), {}
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        for key, part in self.parts.items():
            part.connected_since = None
            if part.ok:
                self._set(key, self._stopped_state or STOPPED)

    def health(self) -> dict[str, Any]:
        """The generic health fields (docs/architecture.md) plus this source's own."""
        return {**combined(self.name, self.parts), **self.extra_health()}

    @property
    def running(self) -> bool:
        """Whether any connection's task is alive."""
        return any(not task.done() for task in self._tasks.values())

    async def wait_for(self, predicate: Callable[[dict[str, Any]], bool],
                       timeout: float | None) -> dict[str, Any]:
        """Wait until `predicate(health())` holds and return that health."""

        async def until() -> dict[str, Any]:
            while True:
                self._changed.clear()
                health = self.health()
                if predicate(health):
                    return health
                await self._changed.wait()

        return await asyncio.wait_for(until(), timeout)

    async def run(self) -> dict[str, Any]:
        """Start, then wait until every connection has ended (failed or stopped)."""
        await self.start()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        return self.health()

    # -- what subclasses may call ---------------------------------------------------

    def changed(self) -> None:
        """Wake whoever waits on `wait_for`."""
        self._changed.set()

    def note_error(self, key: str, error: str) -> None:
        """Record an error that did not end the connection (a malformed item)."""
        self.parts[key].last_error = error
        self.changed()

    async def finish(self, state: str, reason: str) -> None:
        """Stop every connection for good, on purpose, in `state` (a spent budget), saying
        `reason`; a background-task-safe call (from `handle`, too)."""
        self._stopped_state = state
        for key, part in self.parts.items():
            part.last_error = reason
            part.connected_since = None
            self._set(key, state)
        current = asyncio.current_task()
        for task in list(self._tasks.values()):
            if task is not current:
                task.cancel()
        if current in self._tasks.values():
            raise _Finished

    # -- the loop -------------------------------------------------------------------

    async def _run(self, key: str) -> None:
        backoff = self.backoffs[key]
        part = self.parts[key]
        while True:
            try:
                self._set(key, CONNECTING)
                await self._connection(key, part, backoff)
                raise Retry("the server closed the stream")
            except _Finished:
                return
            except Fatal as exc:
                part.last_error = str(exc)
                part.connected_since = None
                logger.error("%s stopped: %s", self._label(key), exc)
                self._set(key, exc.state)
                return
            except Retry as exc:
                wait = backoff.after(exc.kind, exc.retry_after)
                await self._back_off(key, str(exc), wait)
            except (OSError, TimeoutError) as exc:
                await self._back_off(key, f"connection error: {type(exc).__name__}: {exc}",
                                     backoff.network())
            except Exception as exc:
                logger.exception("%s hit an unexpected error", self._label(key))
                await self._back_off(key, f"{type(exc).__name__}: {exc}", backoff.http_error())

    async def _connection(self, key: str, part: Health, backoff: Backoff) -> None:
        """One connection, from connect to its end; raises to say how it ended."""
        delivered = False
        try:
            await self.connect(key)
            part.connects += 1
            part.connected_since = now_utc()
            logger.info("%s connected", self._label(key))
            self._set(key, CONNECTED)
            items = self.read(key).__aiter__()
            while True:
                try:
                    async with _timeout(self.stall_timeout):
                        item = await items.__anext__()
                except StopAsyncIteration:
                    return
                except TimeoutError:
                    raise Retry(f"no data or keep-alive for {self.stall_timeout:g} s: "
                                "the stream stalled") from None
                moment = now_utc()
                if not delivered:
                    # Only a connection that delivers something proves the trouble is over.
                    delivered = True
                    backoff.reset()
                if item is KEEP_ALIVE:
                    part.last_keep_alive = moment
                else:
                    part.last_item_at = moment
                    part.items_received += 1
                    try:
                        await self.handle(key, item)
                    except (SourceError, _Finished, asyncio.CancelledError):
                        raise
                    except Exception as exc:
                        logger.exception("%s could not handle an item", self._label(key))
                        part.last_error = f"could not handle an item: {type(exc).__name__}: {exc}"
                self.changed()
        finally:
            part.connected_since = None
            with contextlib.suppress(Exception):
                await self.disconnect(key)
            self.changed()

    async def _back_off(self, key: str, error: str, wait: float) -> None:
        part = self.parts[key]
        part.last_error = error
        part.retry_in = wait
        scaled = wait * self.backoff_scale
        logger.warning("%s: %s; retrying in %.2f s", self._label(key), error, scaled)
        self._set(key, BACKING_OFF)
        await self.sleep(scaled)
        part.retry_in = None

    def _set(self, key: str, state: str) -> None:
        part = self.parts.setdefault(key, Health())
        part.state = state
        self.history.append({"key": key, "state": state, "retry_in": part.retry_in,
                             "error": part.last_error})
        self.changed()

    def _label(self, key: str) -> str:
        return f"{self.name} source" + (f" ({key})" if key else "")


class _Finished(Exception):
    """Raised inside a connection's task by `finish`: end the task quietly."""


def _timeout(seconds: float | None) -> contextlib.AbstractAsyncContextManager[object]:
    return asyncio.timeout(seconds)
