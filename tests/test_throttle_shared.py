"""The sign-in throttle on Redis: one count for every web process, growing delays."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest
import redis.asyncio as aioredis

from moderation.store import create_store
from moderation.stores.redis import RedisStore
from server.throttle import RedisThrottle
from tests.redis_server import RedisServer
from tests.test_auth import from_address, frozen_clock, login, served
from tests.utils import PASSWORD, RunningServer


@contextlib.asynccontextmanager
async def two_web_processes(redis_url: str) -> AsyncIterator[tuple[RunningServer, ...]]:
    """Two real app servers on one Redis with one secret key, as two `web` roles."""
    async with served(redis_url) as a, served(redis_url) as b:
        yield a, b


async def attempt(running: RunningServer, address: str, name: str,
                  password: str = "wrong") -> int:
    """The status of one sign-in through `running` from a loopback `address`."""
    async with from_address(running, address) as client:
        return (await login(client, name, password)).status_code


async def test_failures_on_two_web_processes_add_up_per_address(redis_url: str) -> None:
    """2 failures from one address on one process and 2 on the other make it wait 5 s on
    both; one more, on either, 10 s on both."""
    async with two_web_processes(redis_url) as (a, b):
        now = frozen_clock(a, b)
        for n, web in enumerate((a, a, b, b)):
            assert await attempt(web, "127.0.0.2", f"name{n}") == 401
        for web in (a, b):
            async with from_address(web, "127.0.0.2") as client:
                refused = await login(client, "ben", PASSWORD)
            assert refused.status_code == 429 and refused.headers["retry-after"] == "5"
        now[0] += 5
        assert await attempt(b, "127.0.0.2", "ben") == 401
        for web in (a, b):
            async with from_address(web, "127.0.0.2") as client:
                refused = await login(client, "ben", PASSWORD)
            assert refused.status_code == 429 and refused.headers["retry-after"] == "10"
        assert await attempt(b, "127.0.0.3", "ben", PASSWORD) == 200


async def test_guesses_for_one_name_on_two_processes_never_lock_it_out(redis_url: str) -> None:
    """Wrong passwords for one name from 6 addresses, spread over both processes, do not
    stop its right password from an address that has not failed, on either process."""
    async with two_web_processes(redis_url) as (a, b):
        frozen_clock(a, b)
        for n, web in enumerate((a, a, a, b, b, b)):
            for _ in range(4):
                assert await attempt(web, f"127.0.0.{10 + n}", "Ana") == 401
            assert await attempt(web, f"127.0.0.{10 + n}", "Ana", PASSWORD) == 429
        assert await attempt(a, "127.0.0.20", "ana", PASSWORD) == 200
        assert await attempt(b, "127.0.0.21", "ANA", PASSWORD) == 200


async def test_guesses_sent_at_once_to_two_processes_get_four_tries(redis_url: str) -> None:
    """12 wrong sign-ins from one address sent together, half to each process: 4 are
    checked, 8 refused; that address stays refused, another one signs in."""
    async with two_web_processes(redis_url) as (a, b):
        frozen_clock(a, b)
        statuses = await asyncio.gather(*(attempt((a, b)[n % 2], "127.0.0.40", "dora")
                                          for n in range(12)))
        assert sorted(statuses) == [401] * 4 + [429] * 8
        assert await attempt(b, "127.0.0.40", "dora", PASSWORD) == 429
        assert await attempt(a, "127.0.0.41", "dora", PASSWORD) == 200


async def test_a_sign_in_on_one_process_clears_the_pair_on_the_other(redis_url: str) -> None:
    """A successful sign-in through one process forgets its address and name's failures
    counted through the other; the address keeps its own, without the sign-in."""
    async with two_web_processes(redis_url) as (a, b):
        now = frozen_clock(a, b)
        throttle = a.wall.login_throttle
        assert isinstance(throttle, RedisThrottle)
        client = aioredis.from_url(redis_url)
        try:
            for _ in range(3):
                assert await attempt(a, "127.0.0.30", "cleo") == 401
            pair = throttle.key("ip:127.0.0.30|account:cleo")
            address = throttle.key("ip:127.0.0.30")
            assert await client.zcard(pair) == await client.zcard(address) == 3
            assert await attempt(b, "127.0.0.30", "Cleo", PASSWORD) == 200
            assert await client.exists(pair) == 0
            assert await client.zcard(address) == 3
        finally:
            await client.aclose()
        assert await attempt(a, "127.0.0.30", "cleo") == 401  # the address's 4th failure
        assert await attempt(b, "127.0.0.30", "cleo", PASSWORD) == 429
        now[0] += 5
        assert await attempt(b, "127.0.0.30", "cleo", PASSWORD) == 200


@contextlib.asynccontextmanager
async def redis_throttle(redis_url: str, now: list[float]) -> AsyncIterator[RedisThrottle]:
    """A Redis throttle on an open store, whose clock reads `now[0]`."""
    store = create_store(redis_url)
    assert isinstance(store, RedisStore)
    await store.open()
    try:
        yield RedisThrottle(store, clock=lambda: now[0])
    finally:
        await store.close()


async def test_redis_throttle_keeps_little_and_expires(redis_url: str) -> None:
    """A key keeps only the newest failures that reach the cap, and expires an hour after
    its newest one."""
    now = [1_700_000_000.0]
    async with redis_throttle(redis_url, now) as throttle:
        assert throttle.keep == 13  # 12 failures reach 15 minutes, and one spare
        for _ in range(40):
            await throttle.failed("ip:a")
            now[0] += 1
        client = aioredis.from_url(redis_url)
        try:
            key = throttle.key("ip:a")
            assert key.startswith("hashwall:throttle:")
            assert await client.zcard(key) == throttle.keep
            assert 3590 < await client.ttl(key) <= 3600
            await client.expire(key, 1)
            await throttle.failed("ip:a")  # a new failure pushes the expiry back
            assert 3590 < await client.ttl(key) <= 3600
        finally:
            await client.aclose()
        # The newest failure, at +40, waits the cap.
        assert await throttle.retry_after("ip:a") == 900
        now[0] += 899.5
        assert await throttle.retry_after("ip:a") == pytest.approx(0.5)


async def test_sign_in_is_refused_while_redis_is_out_of_reach(own_redis: RedisServer) -> None:
    """With Redis down a sign-in answers 503 and signs nobody in, rather than skip the count."""
    async with served(own_redis.url) as running:
        own_redis.stop()
        async with httpx.AsyncClient(base_url=running.base, timeout=30) as client:
            refused = await login(client, "ana", PASSWORD)
        assert refused.status_code == 503
        assert "unreachable" in refused.json()["error"]
        assert refused.headers["retry-after"] == "1"
        assert "hashwall_session" not in refused.cookies
