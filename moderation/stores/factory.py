"""The backend named by a store URL's scheme; no backend imports this module."""

from __future__ import annotations

from urllib.parse import urlsplit

from moderation.stores.base import Store, StoreError


def create_store(url: str) -> Store:
    """The backend named by the URL scheme; its driver is imported only when needed."""
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        from moderation.stores.sqlite import SQLiteStore

        return SQLiteStore(url)
    if scheme in ("redis", "rediss"):
        try:
            from moderation.stores.redis import RedisStore
        except ImportError as exc:
            raise StoreError(f"the Redis store is not available: {exc}") from exc
        return RedisStore(url)
    raise StoreError(f"expected a store URL starting with sqlite:/// or redis://, got {url!r}")
