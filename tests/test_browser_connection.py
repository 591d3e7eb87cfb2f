"""The pages' connection module on a lossy network: duplicates, gaps, and its backoff."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from typing import Any

import pytest
from playwright.async_api import Browser, WebSocketRoute

from tests.browser import new_context, wait_until
from tests.utils import make_post, make_settings, run_server, start_server, stop_server

pytestmark = pytest.mark.asyncio(loop_scope="module")

# Records when (on the page's clock) and where each websocket was opened.
ATTEMPTS = """
window.__attempts = [];
const NativeWebSocket = window.WebSocket;
window.WebSocket = class extends NativeWebSocket {
  constructor(url, ...rest) { window.__attempts.push([Date.now(), url]); super(url, ...rest); }
};
"""


async def test_a_duplicated_event_is_dropped_and_a_lost_one_is_fetched_again(
    browser: Browser, store_url: str
) -> None:
    """Between page and server a network repeats one event and loses another: the wall
    applies each event once, and on the gap it resumes from the last event it applied."""
    settings = make_settings(store_url=store_url, trusted_authors=["trusted"])
    seen: list[tuple[int, dict[str, Any]]] = []  # (connection number, message) as delivered
    connections: list[str] = []

    async def lossy(page_side: WebSocketRoute) -> None:
        number = len(connections)
        connections.append(page_side.url)
        server_side = page_side.connect_to_server()

        def forward(message: str | bytes) -> None:
            data = json.loads(message)
            copies = 1
            if number == 0 and data.get("type") == "post.shown":
                n = int(data["post"]["id"].removeprefix("x:"))
                copies = {2: 2, 3: 0}.get(n, 1)  # x:2 arrives twice, x:3 is lost
            for _ in range(copies):
                seen.append((number, data))
                page_side.send(message)

        server_side.on_message(forward)

    async with run_server(settings) as server:
        context = await new_context(browser, 1920, 1080)
        page = await context.new_page()
        await page.route_web_socket("**/ws*", lossy)
        await page.goto(f"{server.base}/wall")
        await wait_until(page, "() => document.body.dataset.seq === '0'")
        for n in range(1, 5):
            await server.wall.pipeline.ingest(make_post(n, handle="trusted"))
        await wait_until(page, "() => document.body.dataset.seq === '4'")
        await wait_until(page, "() => document.querySelectorAll('#posts .post').length === 4")
        shown = await page.eval_on_selector_all("#posts .post", "n => n.map(c => c.dataset.id)")
        assert sorted(shown) == ["x:1", "x:2", "x:3", "x:4"]
        await context.close()
    # x:4 came after the lost x:3: the page resumed from x:2's event instead of applying it.
    # It names the epoch of the snapshot it started from, so a replaced store resets it.
    epoch = next(m["epoch"] for c, m in seen if m["type"] == "snapshot")
    assert len(connections) == 2 and connections[1].endswith(f"/ws?since=2&epoch={epoch}"), (
        connections)
    assert [(c, m["seq"]) for c, m in seen if m["type"] != "snapshot"] == [
        (0, 1), (0, 2), (0, 2), (0, 4), (1, 3), (1, 4)]


async def test_reconnection_backs_off_exponentially_with_jitter(browser: Browser,
                                                                store_url: str) -> None:
    """With the server gone, attempts space out: each wait is between half and all of
    min(15 s, 0.5 s × 2^attempt), and the waits are not in lockstep (jitter)."""
    running = await start_server(make_settings(store_url=store_url))
    context = await new_context(browser, 1920, 1080)
    page = await context.new_page()
    await page.clock.install(time=time.time())
    await page.add_init_script(ATTEMPTS)
    await page.goto(f"{running.base}/wall")
    await wait_until(page, "() => document.body.dataset.connection === 'open'")
    await stop_server(running)
    await wait_until(page, "() => document.body.dataset.connection === 'closed'")
    # Step the page's clock a little at a time so each refused attempt is noticed in turn.
    for _ in range(280):
        await page.clock.run_for(250)
        await asyncio.sleep(0.005)
    attempts = await page.evaluate("window.__attempts.map(([at]) => at)")
    # attempts[0] opened the page; the wait before retry k + 1 has the ceiling 500 ms × 2^k.
    waits = [b - a for a, b in itertools.pairwise(attempts[1:])]
    ceilings = [min(15_000, 500 * 2**k) for k in range(1, len(waits) + 1)]
    assert len(waits) >= 6, attempts
    for wait, ceiling in zip(waits, ceilings, strict=True):
        assert ceiling / 2 <= wait <= ceiling + 500, (waits, ceilings)
    assert len({round(w / c, 3) for w, c in zip(waits, ceilings, strict=True)}) > 1, waits
    await context.close()


async def test_a_silent_connection_is_given_up_and_resumed(browser: Browser,
                                                           store_url: str) -> None:
    """A link that goes silent without closing (half-open) is dropped after three missed
    heartbeats, and the wall resumes from the last event it applied."""
    settings = make_settings(store_url=store_url, trusted_authors=["trusted"],
                             heartbeat_seconds=0.2)
    connections: list[str] = []
    beats = [0]
    muted = [False]

    async def silent_after_a_while(page_side: WebSocketRoute) -> None:
        number = len(connections)
        connections.append(page_side.url)
        server_side = page_side.connect_to_server()

        def forward(message: str | bytes) -> None:
            if number == 0 and muted[0]:
                return  # the network swallows everything, and nobody closes anything
            if json.loads(message).get("type") == "heartbeat":
                beats[0] += 1
            page_side.send(message)

        server_side.on_message(forward)

    async with run_server(settings) as server:
        context = await new_context(browser, 1920, 1080)
        page = await context.new_page()
        await page.route_web_socket("**/ws*", silent_after_a_while)
        await page.goto(f"{server.base}/wall")
        await server.wall.pipeline.ingest(make_post(1, handle="trusted"))
        await wait_until(page, "() => document.body.dataset.seq === '1'")
        async with asyncio.timeout(10):
            while beats[0] < 1:
                await asyncio.sleep(0.05)
        muted[0] = True
        await server.wall.pipeline.ingest(make_post(2, handle="trusted"))
        await wait_until(page, "() => document.body.dataset.seq === '2'")
        shown = await page.eval_on_selector_all("#posts .post", "n => n.map(c => c.dataset.id)")
        await context.close()
    assert sorted(shown) == ["x:1", "x:2"]
    assert len(connections) == 2 and "/ws?since=1&epoch=" in connections[1], connections
