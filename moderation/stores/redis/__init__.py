"""The scale-out store: every process shares one Redis."""

from __future__ import annotations

from moderation.stores.redis.store import RedisStore

__all__ = ["RedisStore"]
