"""What only the Redis store has to prove: clear errors, several writers, faults, crashes."""

from __future__ import annotations

import asyncio

import pytest

from moderation.exceptions import DecisionConflict
from moderation.post import Status
from moderation.queue import MODERATION, PUBLIC, Action, Verdict
from moderation.store import StoreError, StoreUnavailable, create_store
from tests.redis_server import RedisServer
from tests.utils import free_port, make_post

PENDING = Verdict(Status.PENDING)
TRUSTED = Verdict(Status.APPROVED, "trusted_author")



@pytest.mark.parametrize("url, words", [
    (f"redis://127.0.0.1:{free_port()}/0", "cannot open"),
    ("redis://127.0.0.1:notaport/0", "cannot use"),
])
async def test_unreachable_or_malformed_url_gives_a_clear_error(url: str, words: str) -> None:
    """Opening a store on a port nobody listens on, or on a malformed URL, names the problem."""
    store = create_store(url)
    with pytest.raises(StoreError, match=words):
        await asyncio.wait_for(store.open(), 10)


async def test_refusing_redis_gives_a_clear_error(redis_url: str) -> None:
    """A database number Redis refuses stops the store at open with Redis's own reason."""
    store = create_store(redis_url.rsplit("/", 1)[0] + "/99")
    with pytest.raises(StoreError, match="DB index is out of range"):
        await asyncio.wait_for(store.open(), 10)


async def test_two_processes_deciding_at_once_give_one_outcome_per_post(redis_url: str) -> None:
    """Two store instances racing to approve and reject every post apply exactly one each."""
    first, second = create_store(redis_url), create_store(redis_url)
    await first.open()
    await second.open()
    try:
        for n in range(1, 31):
            await first.submit(make_post(n), PENDING)
        results = await asyncio.wait_for(asyncio.gather(*(
            store.decide(f"x:{n}", action, name, Status.PENDING)
            for n in range(1, 31)
            for store, action, name in ((first, Action.APPROVE, "ana"),
                                        (second, Action.REJECT, "ben"))
        ), return_exceptions=True), 30)
        applied = [r for r in results if not isinstance(r, BaseException)]
        refused = [r for r in results if isinstance(r, BaseException)]
        assert len(applied) == 30
        assert len(refused) == 30 and all(isinstance(r, DecisionConflict) for r in refused)
        approved = {d.post_id for d in applied if d.after is Status.APPROVED}
        events = await second.events_after(PUBLIC, 0)
        assert [e.seq for e in events] == list(range(1, len(approved) + 1))
        assert {e.data["post"]["id"] for e in events} == approved
        assert await first.count(Status.PENDING) == 0
        decided = [e for e in await first.events_after(MODERATION, 0)
                   if e.type == "queue.decided"]
        assert len(decided) == 30
    finally:
        await first.close()
        await second.close()


async def test_concurrent_submits_get_consecutive_sequence_numbers(redis_url: str) -> None:
    """Trusted posts queued at once through two instances are each shown once, seq 1..N."""
    first, second = create_store(redis_url), create_store(redis_url)
    await first.open()
    await second.open()
    try:
        await asyncio.wait_for(asyncio.gather(*(
            (first if n % 2 else second).submit(make_post(n, handle="trusted"), TRUSTED)
            for n in range(1, 41)
        )), 30)
        events = await first.events_after(PUBLIC, 0)
        assert [e.seq for e in events] == list(range(1, 41))
        assert sorted(int(e.data["post"]["id"][2:]) for e in events) == list(range(1, 41))
    finally:
        await first.close()
        await second.close()


async def test_edits_racing_each_other_leave_one_pending_version(redis_url: str) -> None:
    """Several edits of one post arriving at once through two instances leave one pending."""
    first, second = create_store(redis_url), create_store(redis_url)
    await first.open()
    await second.open()
    try:
        await first.submit(make_post(1), PENDING)
        await asyncio.wait_for(asyncio.gather(*(
            (first if n % 2 else second).submit(make_post(n, edit_of="x:1"), PENDING)
            for n in range(2, 12)
        )), 30)
        pending = await first.list_items(Status.PENDING)
        assert len(pending) == 1
        assert await first.count(Status.REJECTED) == 10
    finally:
        await first.close()
        await second.close()


async def test_unreachable_redis_is_reported_then_caught_up(own_redis: RedisServer) -> None:
    """While Redis is down health says so and calls raise StoreUnavailable; then all resumes."""
    store = create_store(own_redis.url)
    await store.open()
    try:
        await store.submit(make_post(1), PENDING)
        own_redis.kill()
        health = await asyncio.wait_for(store.health(), 15)
        assert health["ok"] is False and str(own_redis.port) in health["error"]
        with pytest.raises(StoreUnavailable):
            await asyncio.wait_for(store.decide("x:1", Action.APPROVE, "ana"), 15)
        own_redis.start()
        assert (await asyncio.wait_for(store.health(), 15))["ok"] is True
        await store.decide("x:1", Action.APPROVE, "ana")
        assert [e.seq for e in await store.events_after(PUBLIC, 0)] == [1]
    finally:
        await store.close()


async def test_acknowledged_writes_survive_kill_9(own_redis: RedisServer) -> None:
    """Every write Redis acknowledged before a kill -9 is there after the restart."""
    store = create_store(own_redis.url)
    await store.open()
    try:
        for n in range(1, 21):
            await store.submit(make_post(n, handle="trusted"), TRUSTED)
        await store.decide("x:5", Action.HIDE, "ana")
        own_redis.kill()
        own_redis.start()
        events = await asyncio.wait_for(store.events_after(PUBLIC, 0), 15)
        assert [e.seq for e in events] == list(range(1, 22))
        seq, posts = await store.snapshot(50)
        assert seq == 21 and len(posts) == 19
        await store.submit(make_post(21, handle="trusted"), TRUSTED)
        assert await store.last_seq(PUBLIC) == 22
        assert [e.action for e in await store.audit(1)] == ["submit"]
    finally:
        await store.close()


async def test_a_waiting_follower_wakes_for_an_event_from_another_instance(
    redis_url: str,
) -> None:
    """wait_for_events on one instance returns when another instance appends an event."""
    follower, writer = create_store(redis_url), create_store(redis_url)
    await follower.open()
    await writer.open()
    try:
        waiter = asyncio.create_task(follower.wait_for_events(PUBLIC, 0, timeout=30))
        await asyncio.sleep(0.05)
        assert not waiter.done()
        await writer.submit(make_post(1, handle="trusted"), TRUSTED)
        await asyncio.wait_for(waiter, 10)
        async with asyncio.timeout(10):
            async for event in follower.follow(PUBLIC, 0):
                assert event.seq == 1
                break
    finally:
        await follower.close()
        await writer.close()


async def test_wrong_redis_password_is_a_clear_error(own_redis: RedisServer) -> None:
    """A Redis that wants a password refuses a wrong one, and the error says so."""
    import redis

    redis.Redis(port=own_redis.port).config_set("requirepass", "sesame")
    for url, words in ((own_redis.url, "asks for a password: expected it in the URL"),
                       (f"redis://:wrong@127.0.0.1:{own_redis.port}/0",
                        "refused the credentials")):
        with pytest.raises(StoreError, match=words) as error:
            await asyncio.wait_for(create_store(url).open(), 10)
        assert "wrong" not in str(error.value)  # the password never appears in messages
    store = create_store(f"redis://:sesame@127.0.0.1:{own_redis.port}/0")
    await store.open()
    try:
        assert (await store.health())["ok"] is True
    finally:
        await store.close()


async def test_a_storm_of_reconnecting_screens_waits_for_connections_instead_of_failing(
    redis_url: str,
) -> None:
    """A thousand snapshots at once (screens back after a restart) all succeed on one store."""
    store = create_store(redis_url)
    await store.open()
    try:
        for n in range(30):
            await store.submit(make_post(n), Verdict(Status.APPROVED, "trusted_author"))
        results = await asyncio.wait_for(
            asyncio.gather(*(store.snapshot(30) for _ in range(1000)), return_exceptions=True),
            60,
        )
    finally:
        await store.close()
    failures = [r for r in results if isinstance(r, BaseException)]
    assert failures == []
    assert all(len(r.posts) == 30 for r in results if not isinstance(r, BaseException))
