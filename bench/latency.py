"""Approve-to-screen latency: from the approve request to arrival at tracer screens."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench.hashwall_target import Hashwall
from bench.stats import percentile
from bench.tracers import Tracers, collector_paused

ARRIVAL_TIMEOUT = 60.0


async def approve_at_rate(target: Hashwall, approvals: int, rate: float) -> dict[str, float]:
    """Approve posts at a steady rate, not waiting for answers; return when each was sent."""
    sent: dict[str, float] = {}
    requests: list[asyncio.Task[None]] = []
    started = time.monotonic()
    for n in range(approvals):
        delay = started + n / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        post_id = target.next_post()
        sent[post_id] = time.monotonic()
        requests.append(asyncio.create_task(target.approve(post_id)))
    await asyncio.gather(*requests)
    return sent


async def timed_approvals(target: Hashwall, tracers: Tracers, approvals: int,
                          rate: float) -> list[float]:
    """Approvals at `rate`; the time each took to reach each tracer, in ms."""
    with collector_paused():
        sent = await approve_at_rate(target, approvals, rate)
        arrived = await tracers.wait_for(list(sent), ARRIVAL_TIMEOUT)
    if not arrived:
        raise RuntimeError(f"{target.label}: some posts never reached the tracers")
    return tracers.latencies(sent)


async def latency_run(target: Hashwall, tracers: Tracers, approvals: int,
                      rate: float) -> dict[str, Any]:
    """One run: approvals at `rate`; p50 and p99 over every tracer and post, in ms."""
    samples = await timed_approvals(target, tracers, approvals, rate)
    return {"p50": percentile(samples, 50), "p99": percentile(samples, 99),
            "max": max(samples), "samples": len(samples), "approvals": approvals,
            "rate": rate}
