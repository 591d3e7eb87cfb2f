"""Fan-out cost: server CPU microseconds per client per post, at growing numbers of clients."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bench.hashwall_target import Hashwall
from bench.load import Load
from bench.targets import Target

logger = logging.getLogger(__name__)

DELIVERY_TIMEOUT = 120.0


def greeting(target: Target) -> bool:
    """Whether a new socket receives a message on connecting: hashwall sends a snapshot."""
    return isinstance(target, Hashwall)


async def fan_out_cost(target: Target, load: Load, sizes: list[int], runs: int,
                       client_posts: int,
                       at_size: Callable[[Target, int], Awaitable[int]] | None = None,
                       ) -> dict[str, Any]:
    """Connect up to each size in turn; at each, publish posts and read the server's CPU.

    Each run publishes enough posts for about `client_posts` deliveries, one post at a time,
    each delivered to every socket before the next; CPU time comes from /proc/<pid>/stat.
    `at_size` runs at each size after the runs, while the sockets are still connected, and
    returns how many posts it published.
    """
    points: dict[str, Any] = {}
    memory_before = target.rss()
    connected = 0
    for size in sizes:
        answer = await load.connect(target.port, size - connected, greeting(target))
        if answer["failed"]:
            raise RuntimeError(f"{target.label}: {answer['failed']} of {size - connected} "
                               "sockets failed to open, even when tried again")
        connected = answer["open"]
        # Every socket is greeted: nothing is in flight.
        expected = (await load.stats())["messages"]
        point: dict[str, Any] = {"clients": connected, "connect_seconds": answer["seconds"],
                                 "retried": answer["retried"], "rss_bytes": target.rss(),
                                 "runs": []}
        if not points:
            point["idle_bytes_per_client"] = (point["rss_bytes"] - memory_before) / connected
        posts = max(1, round(client_posts / connected))
        for _ in range(runs):
            cpu_before = target.cpu()
            for _ in range(posts):
                await target.publish()
                expected += connected
                delivered = await load.wait(expected, DELIVERY_TIMEOUT)
                if not delivered["ok"]:
                    raise RuntimeError(f"{target.label}: a post did not reach every socket: "
                                       f"{delivered}")
            used = target.cpu() - cpu_before
            point["runs"].append(used / (connected * posts) * 1e6)
        point["posts_per_run"] = posts
        points[str(size)] = point
        if at_size is not None:
            expected += connected * await at_size(target, size)
            delivered = await load.wait(expected, DELIVERY_TIMEOUT)
            if not delivered["ok"]:
                raise RuntimeError(f"{target.label}: extra posts did not reach every socket")
        logger.info("%s at %d clients: %s us per client per post", target.label, connected,
                    ", ".join(f"{v:.2f}" for v in point["runs"]))
    return points
