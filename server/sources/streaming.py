"""The streaming base: the connect → read → stall detection → backoff → reconnect loop of
one or several connections per source, and the errors a source raises to steer it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from server.sources.backoff import HTTP, NETWORK, RATE_LIMITED, X_BACKOFF, Backoff, BackoffPolicy
from server.sources.health import (
    BACKING_OFF,
    CONNECTED,
    CONNECTING,
    STOPPED,
    Health,
    combined,
    now_utc,
)

if TYPE_CHECKING:
    from server.sources.base import Sink

logger = logging.getLogger(__name__)

__all__ = ["HTTP", "KEEP_ALIVE", "NETWORK", "RATE_LIMITED", "Fatal", "KeepAlive", "Retry",
           "SourceError", "StreamingSource"]


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
                    part.keep_alives += 1
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
