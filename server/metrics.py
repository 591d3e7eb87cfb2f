"""Prometheus metrics of one process: clients, queue depth, posts in, decisions, store lag."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.registry import Collector
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from moderation.post import Status
from moderation.store import Store, StoreError
from server.fanout import Hub
from server.pipeline import Pipeline
from server.state import Source, Wall

DECISIONS = Counter("hashwall_decisions", "Moderator decisions this process applied, by action",
                    ["action"])


def count_decision(action: str) -> None:
    """Count one decision applied through this process (rate() of it: decisions per second)."""
    DECISIONS.labels(action).inc()


class _Readings(Collector):
    """Values read just before a scrape, handed to the exposition once."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return self.families


async def readings(store: Store, pipeline: Pipeline, hubs: Sequence[Hub]) -> list[Metric]:
    """This process's state as metric families; store readings only while the store answers."""
    clients = GaugeMetricFamily("hashwall_connected_clients",
                                "Websocket clients connected to this process", labels=["channel"])
    dropped = CounterMetricFamily("hashwall_clients_dropped_slow",
                                  "Websocket clients dropped because they stopped reading",
                                  labels=["channel"])
    behind = GaugeMetricFamily("hashwall_events_behind",
                               "Events in the store this process has not fanned out yet",
                               labels=["channel"])
    families: list[Metric] = [
        clients, dropped,
        CounterMetricFamily("hashwall_posts_received",
                            "Posts this process's sources received (rate(): posts in per second)",
                            value=pipeline.received),
        GaugeMetricFamily("hashwall_ingest_backlog",
                          "Posts waiting in this process's memory for the store",
                          value=len(pipeline.backlog)),
        GaugeMetricFamily("hashwall_ingest_in_line",
                          "Posts handed on by the sources and not queued yet",
                          value=pipeline.in_line),
        CounterMetricFamily("hashwall_ingest_writes",
                            "Writes that queued posts (posts_received / writes: posts per write)",
                            value=pipeline.batches),
    ]
    for hub in hubs:
        clients.add_metric([hub.channel], len(hub.clients))
        dropped.add_metric([hub.channel], hub.dropped_total)
    start = time.monotonic()
    health = await store.health()
    latency = time.monotonic() - start
    up = bool(health.get("ok"))
    families.append(GaugeMetricFamily("hashwall_store_up", "1 when the store answers, else 0",
                                      value=1 if up else 0))
    if not up:
        return families
    families.append(GaugeMetricFamily(
        "hashwall_store_latency_seconds", "Time the store took to answer a health check",
        value=latency))
    try:
        depth = await store.count(Status.PENDING)
        for hub in hubs:
            last = await store.last_seq(hub.channel)
            behind.add_metric([hub.channel], max(0, last - hub.position))
    except StoreError:
        return families  # the store went away during the scrape: report what was read
    families += [GaugeMetricFamily("hashwall_queue_depth", "Posts waiting for a moderator",
                                   value=depth), behind]
    return families


async def exposition(store: Store, pipeline: Pipeline, hubs: Sequence[Hub]) -> Response:
    """The process-wide registry (decisions, process) followed by this app's readings."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Readings(await readings(store, pipeline, hubs)))
    return Response(generate_latest(REGISTRY) + generate_latest(registry),
                    media_type=CONTENT_TYPE_PLAIN_0_0_4)


async def endpoint(request: Request) -> Response:
    """GET /metrics of a web process."""
    wall: Wall = request.app.state.wall
    return await exposition(wall.store, wall.pipeline, (wall.public, wall.moderation))


def ingest_status_app(store: Store, pipeline: Pipeline, sources: list[Source]) -> Starlette:
    """/metrics and /healthz of the ingest role, which serves no pages."""

    async def metrics(request: Request) -> Response:
        return await exposition(store, pipeline, ())

    async def healthz(request: Request) -> JSONResponse:
        health: dict[str, Any] = {"store": await store.health(),
                                  "sources": {s.name: s.health() for s in sources},
                                  "backlog": pipeline.backlog.health()}
        health["ok"] = bool(health["store"].get("ok")) and all(
            s.get("ok", True) for s in health["sources"].values())
        return JSONResponse(health, status_code=200 if health["ok"] else 503)

    return Starlette(routes=[Route("/metrics", metrics), Route("/healthz", healthz)])
