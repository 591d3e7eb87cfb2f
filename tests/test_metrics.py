"""/metrics: what an operator watches, from a real server, with the Prometheus parser."""

from __future__ import annotations

import asyncio

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.redis_server import RedisServer
from tests.test_robustness import _stalled_socket
from tests.utils import (
    TIMEOUT,
    RunningServer,
    make_post,
    make_settings,
    moderator,
    recv,
    run_server,
    until,
    ws_client,
)

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def _metrics(server: RunningServer) -> Samples:
    """Every sample of /metrics by name and labels."""
    async with httpx.AsyncClient(timeout=TIMEOUT) as http:
        response = await http.get(f"{server.base}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text)
            for s in family.samples}


def _one(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


async def test_metrics_report_clients_queue_posts_decisions_and_drops(store_url: str) -> None:
    """Clients, queue depth, posts in, decisions and slow clients dropped are all counted."""
    settings = make_settings(store_url=store_url, trusted_authors=["trusted"],
                             client_queue_size=32)
    async with run_server(settings) as server:
        wall = server.wall
        before = await _metrics(server)
        for n in (1, 2, 3):
            await wall.pipeline.ingest(make_post(n))
        stalled = await _stalled_socket(server.port)
        try:
            async with ws_client(f"{server.ws_base}/ws", max_size=None) as healthy:
                await recv(healthy)
                await until(lambda: len(wall.public.clients) == 2)
                assert _one(await _metrics(server), "hashwall_connected_clients",
                            channel="public") == 2
                big = "x" * 20_000
                for n in range(10, 310):
                    await wall.pipeline.ingest(make_post(n, text=big, handle="trusted"))
                    await recv(healthy)
                    if wall.public.dropped_total:
                        break
                await until(lambda: wall.public.dropped_total == 1)
                async with moderator(server) as http:
                    assert (await http.post("/api/posts/x:1/approve")).status_code == 200
                    assert (await http.post("/api/posts/x:2/reject")).status_code == 200
                await recv(healthy)  # x:1 shown: this process has fanned out every event
                after = await _metrics(server)
                received = n - 9 + 3
        finally:
            stalled.close()

    def delta(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after[key] - before.get(key, 0.0)

    assert delta("hashwall_posts_received_total") == received
    assert delta("hashwall_decisions_total", action="approve") == 1
    assert delta("hashwall_decisions_total", action="reject") == 1
    assert _one(after, "hashwall_queue_depth") == 1
    assert _one(after, "hashwall_clients_dropped_slow_total", channel="public") == 1
    assert _one(after, "hashwall_connected_clients", channel="public") == 1
    assert _one(after, "hashwall_store_up") == 1
    assert _one(after, "hashwall_store_latency_seconds") >= 0
    assert _one(after, "hashwall_events_behind", channel="public") == 0
    # Each post was waited for, so each took a write of its own, and none is still in line.
    assert delta("hashwall_ingest_writes_total") == received
    assert _one(after, "hashwall_ingest_in_line") == 0



async def test_metrics_say_when_redis_is_down_and_back(own_redis: RedisServer) -> None:
    """While Redis is down /metrics still answers, with the store down; then it is up again."""
    async with run_server(make_settings(store_url=own_redis.url)) as server:
        await server.wall.pipeline.ingest(make_post(1))
        up = await _metrics(server)
        assert _one(up, "hashwall_store_up") == 1 and _one(up, "hashwall_queue_depth") == 1
        own_redis.kill()
        down = await asyncio.wait_for(_metrics(server), TIMEOUT)
        assert _one(down, "hashwall_store_up") == 0
        assert ("hashwall_queue_depth", ()) not in down
        own_redis.start()
        again = await _metrics(server)
        assert _one(again, "hashwall_store_up") == 1 and _one(again, "hashwall_queue_depth") == 1
