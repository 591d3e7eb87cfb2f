"""Random sequences of moderation operations give the same results on SQLite and on Redis."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moderation.exceptions import ModerationError
from moderation.post import Status
from moderation.queue import CHANNELS, Action, Verdict
from moderation.redis_store import RedisStore
from moderation.sqlite_store import SQLiteStore
from moderation.store import Store
from moderation.wall_state import Mode
from tests.utils import make_post

VERDICTS = [Verdict(Status.PENDING), Verdict(Status.APPROVED, "trusted_author"),
            Verdict(Status.REJECTED, "blocked_word", "casino")]
MODERATORS = ["ana", "ben"]
# Clock readings differ between two runs; everything else must be equal.
TIMES = {"at", "received_at", "updated_at"}

post_numbers = st.integers(1, 6)
submits = st.tuples(st.just("submit"), post_numbers, st.sampled_from(range(len(VERDICTS))),
                    st.one_of(st.none(), post_numbers))
decisions = st.tuples(st.just("decide"), post_numbers, st.sampled_from(list(Action)),
                      st.sampled_from(MODERATORS), st.sampled_from([None, "r1", "r2"]))
operations = st.one_of(
    submits, decisions, decisions, decisions,
    st.tuples(st.just("undo"), st.sampled_from(MODERATORS), st.sampled_from([None, "r1", "r3"])),
    st.tuples(st.just("pin"), post_numbers, st.sampled_from(MODERATORS)),
    st.tuples(st.just("unpin"), st.sampled_from(MODERATORS)),
    st.tuples(st.just("pause"), st.booleans()),
    st.tuples(st.just("mode"), st.sampled_from(list(Mode))),
    st.tuples(st.just("announce"), st.integers(1, 2)),
    st.tuples(st.just("claim"), st.sampled_from(MODERATORS), st.integers(1, 3),
              st.integers(0, 3)),
    st.tuples(st.just("release"), st.sampled_from(MODERATORS)),
    st.tuples(st.just("expire"), st.integers(0, 3)),
    st.tuples(st.just("rules"), st.integers(0, 2)),
    st.tuples(st.just("share"), st.integers(1, 8), post_numbers),
    st.tuples(st.just("share"), st.integers(1, 8), post_numbers),
)


def _plain(value: Any) -> Any:
    """The value with clock readings blanked, for comparing two runs."""
    if isinstance(value, dict):
        return {k: None if k in TIMES else _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


async def _apply(store: Store, op: tuple[Any, ...]) -> Any:
    name, *args = op
    if name == "submit":
        n, verdict, edit_of = args
        post = make_post(n, edit_of=f"x:{edit_of}" if edit_of and edit_of != n else None)
        item, created = await store.submit(post, VERDICTS[verdict])
        return item.to_dict(), created
    if name == "decide":
        n, action, moderator, ref = args
        d = await store.decide(f"x:{n}", action, moderator, ref=ref)
        return d.post_id, d.action, d.before, d.after, d.repeat
    if name == "undo":
        d = await store.undo(*args)
        return d.post_id, d.action, d.before, d.after, d.repeat
    if name == "pin":
        return await store.pin(f"x:{args[0]}", args[1])
    if name == "unpin":
        return await store.unpin(args[0])
    if name == "pause":
        return await store.set_paused(args[0], "ana")
    if name == "mode":
        return await store.set_mode(args[0], "ana")
    if name == "announce":
        from moderation.wall_state import make_announcement

        post = make_announcement(f"welcome {args[0]}", f"k{args[0]}", "Team", "2014-08-27")
        item, created = await store.announce(post, "ana")
        return item.to_dict(), created
    if name == "claim":
        moderator, size, minute = args
        return await store.claim(moderator, size, 120.0, now=1000.0 + 60 * minute)
    if name == "release":
        return await store.release(args[0])
    if name == "expire":
        return await store.release_expired(now=1000.0 + 60 * args[0])
    if name == "share":
        return await store.share(f"x:{100 + args[0]}", f"x:{args[1]}")
    await store.put_rules({"blocked_words": [f"word{args[0]}"]}, "ben")
    return None


async def _state(store: Store) -> Any:
    """Everything a screen, a console or an export can read from a store."""
    seq, posts = snapshot = await store.snapshot(50)
    items = {s.value: [i.to_dict() for i in await store.list_items(s, 50)] for s in Status}
    events = {c: [(e.seq, e.type, e.data) for e in await store.events_after(c, 0, 1000)]
              for c in CHANNELS}
    audit = [e.to_dict() for e in await store.audit(1000)]
    pinned = snapshot.pinned.id if snapshot.pinned else None
    shares = await store.share_counts([f"x:{n}" for n in range(1, 7)])
    return _plain([seq, [p.id for p in posts], pinned, snapshot.paused, items, events, audit,
                   (await store.wall_state()).to_dict(), await store.get_rules(),
                   snapshot.shares, shares])


async def _run(store: Store, ops: list[tuple[Any, ...]]) -> list[Any]:
    outcomes = []
    for op in ops:
        try:
            outcomes.append(_plain(await _apply(store, op)))
        except ModerationError as exc:
            outcomes.append(type(exc).__name__)
    return [outcomes, await _state(store)]


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
            return await _run(sqlite, ops), await _run(redis, ops)
        finally:
            await sqlite.close()
            await redis.close()

    expected, got = asyncio.run(asyncio.wait_for(both(), 60))
    assert got == expected


