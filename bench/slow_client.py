"""Slow client: one socket that stops reading beside healthy ones.

The healthy screens' latency must not move, the stalled socket must be dropped, and the
server's memory must stay bounded while it is stalled and come back once it is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from typing import Any

from bench import frames
from bench.hashwall_target import Hashwall
from bench.latency import timed_approvals
from bench.stats import percentile
from bench.tracers import Tracers


async def stalled_socket(port: int) -> socket.socket:
    """A websocket that completes its handshake and then never reads again."""
    sock = socket.socket()
    # A small receive window, like a phone whose radio went to sleep.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await asyncio.wait_for(loop.sock_connect(sock, ("127.0.0.1", port)), 10)
    request, accept = frames.upgrade_request("127.0.0.1", port, "/ws")
    await asyncio.wait_for(loop.sock_sendall(sock, request), 10)
    answer = await asyncio.wait_for(loop.sock_recv(sock, 1024), 10)
    if not answer.startswith(b"HTTP/1.1 101") or accept.encode() not in answer:
        raise RuntimeError(f"the stalled socket's handshake failed: {answer[:80]!r}")
    return sock


async def slow_client_run(target: Hashwall, tracers: Tracers, approvals: int, rate: float,
                          most: int, grace: float) -> dict[str, Any]:
    """A control phase, then approvals in batches with a stalled socket until it is dropped.

    Both phases approve at `rate`; the control phase makes `approvals`, the stalled phase
    makes batches of a tenth of that until the drop, at most `most`, and one more batch.
    `grace` is how long the server is then given to let go of the stalled socket, before
    its sockets and memory are read.
    """
    control = await timed_approvals(target, tracers, approvals, rate)
    dropped_before = (await target.health())["dropped_slow_clients"]
    memory_before = target.rss()
    samples: list[int] = []

    async def sample() -> None:
        while True:
            samples.append(target.rss())
            await asyncio.sleep(0.1)

    async def dropped() -> bool:
        return bool((await target.health())["dropped_slow_clients"] > dropped_before)

    sampler = asyncio.create_task(sample())
    stalled = await stalled_socket(target.port)
    started = time.monotonic()
    batch = max(1, approvals // 10)
    latencies: list[float] = []
    sent = 0
    try:
        while sent < most and not await dropped():
            latencies += await timed_approvals(target, tracers, batch, rate)
            sent += batch
        was_dropped = await dropped()
        until_dropped = time.monotonic() - started
        latencies += await timed_approvals(target, tracers, batch, rate)
        await asyncio.sleep(grace)
        # The server closes its end; the stalled end cannot notice, as it reads nothing.
        released = not target.holds(stalled.getsockname()[1])
        memory_after = target.rss()
    finally:
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
        stalled.close()
    return {
        "control_p99": percentile(control, 99),
        "stalled_p99": percentile(latencies, 99),
        "control_p50": percentile(control, 50),
        "stalled_p50": percentile(latencies, 50),
        "dropped": was_dropped,
        "posts_until_dropped": sent,
        "seconds_until_dropped": round(until_dropped, 2),
        "released": released,
        "rss_before": memory_before,
        "rss_peak": max(samples, default=memory_before),
        "rss_after": memory_after,
    }
