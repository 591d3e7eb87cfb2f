"""The moderator console in headless Chromium against a real server: tap, swipe, keys, outages."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page

from moderation.post import Status
from moderation.queue import MODERATION, Action
from tests.browser import injected, new_context, wait_until
from tests.utils import (
    PASSWORD,
    free_port,
    make_post,
    make_settings,
    start_server,
    stop_server,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

WAIT_MS = 10_000


async def sign_in(page: Page, base: str, name: str = "ana") -> None:
    """Open the console and sign in with the shared password."""
    await page.goto(f"{base}/moderate")
    await page.fill("input[name=name]", name)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.locator("#console").wait_for(state="visible", timeout=WAIT_MS)


async def test_a_tap_on_approve_puts_the_post_on_the_wall(browser: Browser,
                                                          store_url: str) -> None:
    """On a touch tablet, tapping Approve on a queued post shows it on /wall."""
    port = free_port()
    settings = make_settings(store_url=store_url, public_url=f"http://127.0.0.1:{port}")
    server = await start_server(settings, port=port)
    tablet = await new_context(browser, 800, 1280, has_touch=True, is_mobile=True)
    projector = await new_context(browser, 1920, 1080)
    try:
        await server.wall.pipeline.ingest(make_post(1, text="Salle comble pour la plénière"))
        wall = await projector.new_page()
        await wall.goto(f"{server.base}/wall")
        console = await tablet.new_page()
        await sign_in(console, server.base)
        card = console.locator('#queue .card[data-id="x:1"]')
        await card.wait_for(timeout=WAIT_MS)
        assert "Salle comble" in await card.inner_text()
        # Portrait: one pane at a time, and thumb-sized buttons.
        assert not await console.locator("#pane-wall").is_visible()
        button = await card.locator("button.approve").bounding_box()
        assert button is not None and button["height"] >= 48 and button["width"] >= 120
        assert await console.locator("#depth").inner_text() == "1"
        await card.locator("button.approve").tap()
        shown = wall.locator('.post[data-id="x:1"]')
        await shown.wait_for(timeout=WAIT_MS)
        assert "Salle comble" in await shown.inner_text()
        await console.locator('#queue .card[data-id="x:1"]').wait_for(state="detached",
                                                                       timeout=WAIT_MS)
        item = await server.wall.store.get("x:1")
        assert item is not None and item.status is Status.APPROVED and item.decided_by == "ana"
        assert await injected(console) == []
    finally:
        await tablet.close()
        await projector.close()
        await stop_server(server)


async def test_swipes_keys_and_an_outage_lose_no_decision(browser: Browser,
                                                          store_url: str) -> None:
    """Swipe left rejects; keys approve; a decision made while the server is down is sent once
    when it is back, and a colleague's decision appears live."""
    port = free_port()
    settings = make_settings(store_url=store_url, public_url=f"http://127.0.0.1:{port}",
                             trusted_authors=[])
    server = await start_server(settings, port=port)
    laptop = await new_context(browser, 1366, 768)
    try:
        for n in range(1, 5):
            await server.wall.pipeline.ingest(make_post(n, text=f"Question {n} pour le panel"))
        page = await laptop.new_page()
        await sign_in(page, server.base)
        first = page.locator('#queue .card[data-id="x:1"]')
        await first.wait_for(timeout=WAIT_MS)
        # Landscape: the queue beside the wall's posts; J and K move the focus.
        assert await page.locator("#pane-wall").is_visible()
        await page.keyboard.press("j")
        assert await page.locator(".card.focused").get_attribute("data-id") == "x:2"
        await page.keyboard.press("k")
        assert await page.locator(".card.focused").get_attribute("data-id") == "x:1"
        box = await first.bounding_box()
        assert box is not None
        y = box["y"] + box["height"] / 3
        await page.mouse.move(box["x"] + box["width"] * 0.7, y)
        await page.mouse.down()
        for step in range(1, 11):
            await page.mouse.move(box["x"] + box["width"] * (0.7 - 0.06 * step), y)
        await page.mouse.up()
        await first.wait_for(state="detached", timeout=WAIT_MS)
        await page.keyboard.press("a")  # the focus moved to x:2
        await page.locator('#queue .card[data-id="x:2"]').wait_for(state="detached",
                                                                    timeout=WAIT_MS)
        await wait_until(page, "() => document.querySelectorAll('#activity li').length >= 2")

        await stop_server(server)
        banner = page.locator("#banner")
        await banner.wait_for(state="visible", timeout=WAIT_MS)
        assert "Connection lost" in await banner.inner_text()
        await page.keyboard.press("a")  # x:3, decided while nobody can hear it
        await page.locator('#queue .card[data-id="x:3"]').wait_for(state="detached",
                                                                    timeout=WAIT_MS)
        assert "1 waiting" in await banner.inner_text()

        server = await start_server(settings, port=port)
        await banner.wait_for(state="hidden", timeout=20_000)
        item = await server.wall.store.get("x:3")
        assert item is not None and item.status is Status.APPROVED
        statuses = [(await server.wall.store.get(f"x:{n}")) for n in (1, 2)]
        assert [i.status for i in statuses if i] == [Status.REJECTED, Status.APPROVED]
        decided = [e.data["id"] for e in await server.wall.store.events_after(MODERATION, 0)
                   if e.type == "queue.decided"]
        assert sorted(decided) == ["x:1", "x:2", "x:3"]  # each applied exactly once

        await server.wall.store.decide("x:4", Action.APPROVE, "ben")
        await page.locator('#queue .card[data-id="x:4"]').wait_for(state="detached",
                                                                    timeout=WAIT_MS)
        assert "ben" in await page.locator("#notice").inner_text()

        await server.wall.pipeline.ingest(make_post(5, text="Oh merde, le micro est coupé"))
        await page.click('[role=tab][data-tab="activity"]')
        override = page.locator("#activity button.override")
        await override.wait_for(timeout=WAIT_MS)
        line = await page.locator("#activity li").first.inner_text()
        assert "Automatic rules rejected" in line and "Blocked word" in line
        await override.click()
        await page.locator('#approved .card[data-id="x:5"]').wait_for(state="attached",
                                                                    timeout=WAIT_MS)
        item = await server.wall.store.get("x:5")
        assert item is not None and item.status is Status.APPROVED and item.decided_by == "ana"
    finally:
        await laptop.close()
        await stop_server(server)
