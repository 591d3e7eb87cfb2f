"""Queueing posts, or counting retweets, in one batch is the same as one after the other."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moderation.post import Status
from moderation.store import Store, create_store
from tests.store_ops import VERDICTS, operations, run, shares, submits
from tests.utils import make_post

_runs = itertools.count()


def _compare(backend: str, redis_url: str, tmp_path: Path, before: list[tuple[Any, ...]],
             one_by_one: list[tuple[Any, ...]], at_once: tuple[Any, ...]) -> None:
    """Run `before` on two fresh stores of a backend, then `one_by_one` on the first and the
    single operation `at_once` on the second: same outcomes and same state."""

    def fresh(name: str) -> Store:
        if backend == "sqlite":
            return create_store(f"sqlite:///{tmp_path / f'{name}.sqlite3'}")
        from moderation.stores.redis import RedisStore

        return RedisStore(redis_url, prefix=f"{name}:")

    async def both() -> tuple[list[Any], list[Any]]:
        number = next(_runs)
        one, many = fresh(f"one{number}"), fresh(f"many{number}")
        await one.open()
        await many.open()
        try:
            await run(one, before)
            await run(many, before)
            expected = await run(one, one_by_one)
            outcomes, state = await run(many, [at_once])
            return expected, [outcomes[0], state]
        finally:
            await one.close()
            await many.close()

    expected, got = asyncio.run(asyncio.wait_for(both(), 60))
    assert got == expected


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(before=st.lists(operations, max_size=12),
       batch=st.lists(submits, min_size=1, max_size=10))
def test_a_batch_queues_like_one_post_after_another(
    backend: str, before: list[tuple[Any, ...]], batch: list[tuple[Any, ...]],
    redis_url: str, tmp_path: Path,
) -> None:
    """Edits of each other, repeated ids and posts already queued: the same outcome,
    events, audit and items as the same submits one by one."""
    _compare(backend, redis_url, tmp_path, before, batch, ("batch", batch))


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(before=st.lists(operations, max_size=12), batch=st.lists(shares, min_size=1,
                                                                 max_size=10))
def test_shares_counted_together_count_like_one_after_another(
    backend: str, before: list[tuple[Any, ...]], batch: list[tuple[Any, ...]],
    redis_url: str, tmp_path: Path,
) -> None:
    """Repeated retweets and retweets counted before: the same counts, events and items."""
    # Every post a retweet may count toward is queued (counting toward a post that is not
    # refuses the whole batch: tests/test_redis_parity.py covers that).
    queued = [("submit", n, 0, None) for n in range(1, 7)]
    _compare(backend, redis_url, tmp_path, [*queued, *before], batch,
             ("shares", [share[1:] for share in batch]))


async def test_a_batch_is_written_whole_or_not_at_all(any_store: Store) -> None:
    """A batch that fails on its last post leaves no trace of the ones before it."""
    await any_store.submit(make_post(1), VERDICTS[0])
    entries = [(make_post(n), VERDICTS[1]) for n in (2, 3)]
    # A post whose data cannot be written as JSON fails the batch after two good posts.
    broken = make_post(4)
    object.__setattr__(broken, "lang", object())
    with pytest.raises(TypeError):
        await any_store.submit_many([*entries, (broken, VERDICTS[0])])
    assert sorted(await any_store.get_many(["x:1", "x:2", "x:3", "x:4"])) == ["x:1"]
    assert await any_store.count(Status.APPROVED) == 0
    done = await any_store.submit_many(entries)
    assert [(item.post.id, item.status, created) for item, created in done] == [
        ("x:2", Status.APPROVED, True), ("x:3", Status.APPROVED, True)]


async def test_get_many_reads_what_get_reads(any_store: Store) -> None:
    """get_many over more ids than one read takes (unknown ones and repeats among them) gives
    exactly the queued items, each as `get` gives it."""
    done = await any_store.submit_many(
        [(make_post(n), VERDICTS[n % 2]) for n in range(0, 1300, 2)])
    assert len(done) == 650
    asked = [f"x:{n}" for n in range(1300)] + ["x:4", "x:unknown"]
    found = await any_store.get_many(asked)
    assert sorted(found) == sorted(f"x:{n}" for n in range(0, 1300, 2))
    for post_id in ("x:0", "x:998", "x:1298"):
        assert found[post_id] == await any_store.get(post_id)
    assert await any_store.get_many([]) == {}
