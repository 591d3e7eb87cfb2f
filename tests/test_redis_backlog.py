"""The ingest pipeline while Redis is away: posts wait in memory, bounded, in arrival order."""

from __future__ import annotations

import asyncio

from moderation.post import Status
from moderation.store import create_store
from server.pipeline import pipeline_for
from tests.redis_server import RedisServer
from tests.utils import TIMEOUT, make_post, make_settings, until


async def test_posts_wait_in_order_and_a_full_backlog_holds_the_source(
    own_redis: RedisServer,
) -> None:
    """Posts arriving while Redis is down are queued in order once it returns, none lost."""
    store = create_store(own_redis.url)
    await store.open()
    pipeline = pipeline_for(make_settings(store_url=own_redis.url), store)
    await pipeline.start()
    pipeline.backlog.size = 3
    try:
        own_redis.kill()
        for n in (1, 2, 3):
            assert await asyncio.wait_for(pipeline.ingest(make_post(n)), TIMEOUT) is None
        fourth = asyncio.create_task(pipeline.ingest(make_post(4)))
        await asyncio.sleep(0.3)
        # The backlog is full: the source waits instead of losing its post.
        assert not fourth.done() and len(pipeline.backlog) == 3
        health = pipeline.backlog.health()
        assert health["ok"] is False and "unreachable" in health["last_error"]

        own_redis.start()
        await asyncio.wait_for(fourth, TIMEOUT)
        await until(lambda: not pipeline.backlog)
        pending = await store.list_items(Status.PENDING)
        assert [i.post.id for i in pending] == ["x:1", "x:2", "x:3", "x:4"]
        # With nothing waiting, the next post goes straight to the store.
        item = await pipeline.ingest(make_post(5))
        assert item is not None and item.status is Status.PENDING
        assert pipeline.backlog.health() == {"ok": True, "waiting": 0, "size": 3,
                                             "held_total": 4, "last_error": health["last_error"]}
    finally:
        await pipeline.stop()
        await store.close()
