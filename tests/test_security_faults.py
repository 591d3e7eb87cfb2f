"""A hung Redis (SIGSTOP of the test's own redis-server) against a real server."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from collections.abc import Iterator

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.redis_server import RedisServer
from tests.utils import TIMEOUT, make_settings, moderator, recv, run_server, ws_client


@contextlib.contextmanager
def stopped(redis: RedisServer) -> Iterator[None]:
    """Redis frozen (SIGSTOP) for the duration of the block: connected, but silent."""
    assert redis.process is not None
    os.kill(redis.process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(redis.process.pid, signal.SIGCONT)


async def test_hung_redis_gets_503_at_once_and_healthz_within_a_second(
        own_redis: RedisServer, caplog: pytest.LogCaptureFixture) -> None:
    """With Redis stopped, API requests answer 503 with Retry-After within the store
    timeout, /healthz within a second, and /ws closes with 1013 and one log line."""
    settings = make_settings(store_url=own_redis.url, store_timeout=1.0)
    async with run_server(settings) as running, \
            httpx.AsyncClient(base_url=running.base, timeout=TIMEOUT) as http:
        async with moderator(running) as console:
            assert (await http.get("/api/posts")).status_code == 200
            with stopped(own_redis):
                started = time.monotonic()
                response = await http.get("/api/posts")
                to_503 = time.monotonic() - started
                assert response.status_code == 503 and response.headers["retry-after"] == "1"
                started = time.monotonic()
                health = await http.get("/healthz")
                health_took = time.monotonic() - started
                assert health.status_code == 503 and health_took < 1.0
                assert (await console.get("/api/me")).status_code == 503
                caplog.clear()
                with caplog.at_level(logging.WARNING):
                    async with ws_client(f"{running.ws_base}/ws") as ws:
                        with pytest.raises(ConnectionClosed):
                            await recv(ws)
                        assert ws.close_code == 1013
                tracebacks = [r for r in caplog.records if r.exc_info]
                lines = [r for r in caplog.records if "1013" in r.getMessage()]
                assert tracebacks == [] and len(lines) == 1, caplog.text
                with pytest.raises(InvalidStatus):
                    async with ws_client(f"{running.ws_base}/ws/moderate",
                                         additional_headers={"Cookie": console.headers.get(
                                             "cookie", "") or "; ".join(
                                             f"{k}={v}" for k, v in console.cookies.items())}):
                        pass
            print(f"\ntime to 503 with Redis stopped: {to_503:.2f} s; "
                  f"/healthz: {health_took:.2f} s")
            assert to_503 < 2.0
            async with ws_client(f"{running.ws_base}/ws") as ws:
                assert (await recv(ws))["type"] == "snapshot"
            assert (await http.get("/healthz")).status_code == 200
