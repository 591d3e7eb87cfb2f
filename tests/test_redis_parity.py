"""Random sequences of moderation operations give the same results on SQLite and on Redis."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moderation.stores.redis import RedisStore
from moderation.stores.sqlite import SQLiteStore
from tests.store_ops import operations, run, submits

_runs = itertools.count()



@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=st.lists(submits, min_size=2, max_size=8),
       then=st.lists(operations, min_size=3, max_size=30))
def test_redis_matches_sqlite(first: list[tuple[Any, ...]], then: list[tuple[Any, ...]],
                              redis_url: str, tmp_path: Path) -> None:
    """Every operation gives the same outcome, events, audit and items on both backends."""
    ops = first + then

    async def both() -> tuple[list[Any], list[Any]]:
        number = next(_runs)
        sqlite = SQLiteStore(f"sqlite:///{tmp_path / f'parity{number}.sqlite3'}")
        redis = RedisStore(redis_url, prefix=f"parity{number}:")
        await sqlite.open()
        await redis.open()
        try:
            return await run(sqlite, ops), await run(redis, ops)
        finally:
            await sqlite.close()
            await redis.close()

    expected, got = asyncio.run(asyncio.wait_for(both(), 60))
    assert got == expected


