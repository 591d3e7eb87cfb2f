"""Prometheus metrics of one process: clients, queue depth, posts in, decisions, store lag."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from datetime import datetime
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
from server.sources.base import Source
from server.state import Wall

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


def source_readings(sources: Sequence[Source]) -> list[Metric]:
    """Every source's health fields as metric families, labelled by source (and by
    connection for the sources that keep several), plus the numbers a source lists under
    `metrics` in its health, as `hashwall_source_<name>`."""
    up = GaugeMetricFamily("hashwall_source_up", "1 unless the source failed for good",
                           labels=["source"])
    state = GaugeMetricFamily("hashwall_source_state", "1 for the state the source is in",
                              labels=["source", "state"])
    connected = GaugeMetricFamily("hashwall_source_connected",
                                  "Connections of the source that are open",
                                  labels=["source"])
    items = CounterMetricFamily("hashwall_source_items_received",
                                "Items the source received since this process started",
                                labels=["source"])
    reconnects = CounterMetricFamily("hashwall_source_reconnects",
                                     "Connections the source reopened after the first",
                                     labels=["source", "connection"])
    last_item = GaugeMetricFamily("hashwall_source_last_item_timestamp_seconds",
                                  "When the source last received an item (Unix time)",
                                  labels=["source"])
    own: dict[str, GaugeMetricFamily] = {}
    for source in sources:
        health = source.health()
        name = source.name
        up.add_metric([name], 1 if health.get("ok", True) else 0)
        state.add_metric([name, str(health.get("state", "unknown"))], 1)
        parts = health.get("connections") or {"": health}
        connected.add_metric([name], sum(1 for p in parts.values() if p.get("connected")))
        items.add_metric([name], float(health.get("items_received", 0) or 0))
        for key, part in parts.items():
            reconnects.add_metric([name, key], float(part.get("reconnects", 0) or 0))
        if health.get("last_item_at"):
            last_item.add_metric([name], datetime.fromisoformat(health["last_item_at"])
                                 .timestamp())
        for metric, value in (health.get("metrics") or {}).items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                family = own.setdefault(metric, GaugeMetricFamily(
                    f"hashwall_source_{metric}", f"The source's {metric.replace('_', ' ')}",
                    labels=["source"]))
                family.add_metric([name], float(value))
    return [up, state, connected, items, reconnects, last_item, *own.values()]


async def readings(store: Store, pipeline: Pipeline, hubs: Sequence[Hub],
                   sources: Sequence[Source] = ()) -> list[Metric]:
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
        CounterMetricFamily("hashwall_posts_retracted",
                            "Posts taken back because their author deleted them",
                            value=pipeline.retracted),
        CounterMetricFamily("hashwall_ingest_writes",
                            "Writes that queued posts (posts_received / writes: posts per write)",
                            value=pipeline.batches),
    ]
    for hub in hubs:
        clients.add_metric([hub.channel], len(hub.clients))
        dropped.add_metric([hub.channel], hub.dropped_total)
    if sources:
        families += source_readings(sources)
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


async def exposition(store: Store, pipeline: Pipeline, hubs: Sequence[Hub],
                     sources: Sequence[Source] = ()) -> Response:
    """The process-wide registry (decisions, process) followed by this app's readings."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Readings(await readings(store, pipeline, hubs, sources)))
    return Response(generate_latest(REGISTRY) + generate_latest(registry),
                    media_type=CONTENT_TYPE_PLAIN_0_0_4)


async def endpoint(request: Request) -> Response:
    """GET /metrics of a web process."""
    wall: Wall = request.app.state.wall
    return await exposition(wall.store, wall.pipeline, (wall.public, wall.moderation),
                            wall.sources)


def ingest_status_app(store: Store, pipeline: Pipeline, sources: list[Source]) -> Starlette:
    """/metrics and /healthz of the ingest role, which serves no pages."""

    async def metrics(request: Request) -> Response:
        return await exposition(store, pipeline, (), sources)

    async def healthz(request: Request) -> JSONResponse:
        health: dict[str, Any] = {"store": await store.health(),
                                  "sources": {s.name: s.health() for s in sources},
                                  "backlog": pipeline.backlog.health()}
        health["ok"] = bool(health["store"].get("ok")) and all(
            s.get("ok", True) for s in health["sources"].values())
        return JSONResponse(health, status_code=200 if health["ok"] else 503)

    return Starlette(routes=[Route("/metrics", metrics), Route("/healthz", healthz)])
