"""Idle connections: memory per connected screen, and how many screens one process holds."""

from __future__ import annotations

import logging
from typing import Any

from bench.cost import greeting
from bench.load import Load
from bench.targets import Target

logger = logging.getLogger(__name__)


async def idle_connections(target: Target, load: Load, steps: list[int]) -> dict[str, Any]:
    """Connect idle sockets up to each step; memory per socket from the RSS difference.

    The last step is the most this machine allows (the open-file limit); the most reached
    is how many sockets were open (and greeted, on hashwall) after trying it.
    """
    memory_before = target.rss()
    connected = 0
    points = []
    for step in steps:
        answer = await load.connect(target.port, step - connected, greeting(target))
        connected = answer["open"]
        memory = target.rss()
        points.append({"attempted": step, "open": connected, "failed": answer["failed"],
                       "retried": answer["retried"], "rss_bytes": memory,
                       "bytes_per_client": (memory - memory_before) / max(connected, 1),
                       "connect_seconds": answer["seconds"]})
        logger.info("%s: %d idle sockets, %.0f bytes each", target.label, connected,
                    points[-1]["bytes_per_client"])
        if answer["failed"]:
            break
    return {"rss_before": memory_before, "points": points,
            "most_reached": max((p["open"] for p in points), default=0)}
