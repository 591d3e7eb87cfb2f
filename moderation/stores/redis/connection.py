"""Reaching Redis: the clients, and driver errors translated into the store's errors."""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import AuthenticationError, RedisError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from moderation.stores.base import StoreError, StoreUnavailable


class Located(Protocol):
    """Whatever names the Redis it talks to, for messages."""

    where: str


P = ParamSpec("P")
T = TypeVar("T")
S = TypeVar("S", bound="Located")


def where(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"


def translated(
    method: Callable[Concatenate[S, P], Coroutine[Any, Any, T]],
) -> Callable[Concatenate[S, P], Coroutine[Any, Any, T]]:
    """Turn driver errors into `StoreUnavailable` (try again later) or `StoreError`."""

    @functools.wraps(method)
    async def wrapper(self: S, *args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await method(self, *args, **kwargs)
        except AuthenticationError as exc:
            raise StoreError(f"Redis at {self.where} refused the credentials: {exc}") from exc
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise StoreUnavailable(f"Redis at {self.where} is unreachable: {exc}") from exc
        except RedisError as exc:
            raise StoreError(f"Redis at {self.where} refused a command: {exc}") from exc

    return wrapper


# Connections per pool, and how long a call waits for a free one before it fails.
POOL_SIZE = 64
POOL_WAIT = 10.0


def client(url: str, socket_timeout: float) -> aioredis.Redis:
    """A client with its own pool; `ValueError` for a URL that is not a Redis URL."""
    # When every pooled connection is busy (hundreds of screens reconnecting at once after a
    # restart) a call waits for one instead of failing with "Too many connections". A couple
    # of quick retries cover a connection that died with a restart.
    pool = aioredis.BlockingConnectionPool.from_url(
        url, decode_responses=True, socket_connect_timeout=2.0,
        socket_timeout=socket_timeout, max_connections=POOL_SIZE, timeout=POOL_WAIT,
        retry=Retry(ExponentialBackoff(0.5, 0.05), 2),
    )
    return aioredis.Redis(connection_pool=pool)
