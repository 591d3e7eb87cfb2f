"""The store interface and the factory, under the name the rest of hashwall imports."""

from __future__ import annotations

from moderation.stores.base import Store, StoreError, StoreUnavailable
from moderation.stores.factory import create_store

__all__ = ["Store", "StoreError", "StoreUnavailable", "create_store"]
