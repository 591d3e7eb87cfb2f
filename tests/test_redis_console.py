"""The moderator console in headless Chromium while Redis restarts: no decision is lost."""

from __future__ import annotations

from playwright.async_api import async_playwright

from moderation.post import Status
from moderation.queue import MODERATION
from tests.browser import launch, new_context
from tests.redis_server import RedisServer
from tests.test_console_browser import WAIT_MS, sign_in
from tests.utils import free_port, make_post, make_settings, start_server, stop_server


async def test_a_decision_made_while_redis_is_down_is_applied_once_when_it_returns(
    own_redis: RedisServer,
) -> None:
    """The console keeps a decision Redis could not take, and it lands once Redis is back."""
    port = free_port()
    settings = make_settings(store_url=own_redis.url, public_url=f"http://127.0.0.1:{port}")
    server = await start_server(settings, port=port)
    async with async_playwright() as playwright:
        browser = await launch(playwright)
        try:
            laptop = await new_context(browser, 1366, 768)
            for n in (1, 2):
                await server.wall.pipeline.ingest(make_post(n, text=f"Question {n} au panel"))
            page = await laptop.new_page()
            await sign_in(page, server.base)
            await page.locator('#queue .card[data-id="x:1"]').wait_for(timeout=WAIT_MS)

            own_redis.kill()
            await page.keyboard.press("a")  # approve x:1 while Redis is away
            # The server refused it (its store is unreachable); the console keeps it.
            notice = page.locator("#notice", has_text="cannot reach its store")
            await notice.wait_for(timeout=WAIT_MS)
            banner = page.locator("#banner")
            assert "Sending 1 decision" in await banner.inner_text()
            # The console's socket stayed open through the refusal.
            assert await page.evaluate("document.querySelector('#banner.offline') === null")

            own_redis.start()
            await banner.wait_for(state="hidden", timeout=WAIT_MS)
            item = await server.wall.store.get("x:1")
            assert item is not None and item.status is Status.APPROVED
            assert item.decided_by == "ana"
            decided = [e.data["id"] for e in await server.wall.store.events_after(MODERATION, 0)
                       if e.type == "queue.decided"]
            assert decided == ["x:1"]
        finally:
            await browser.close()
            await stop_server(server)
