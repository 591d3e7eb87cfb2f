"""Built-in themes: chosen by HASHWALL_THEME, switched live from the console on every screen."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser

from tests.browser import injected, new_context, wait_until
from tests.utils import PASSWORD, free_port, make_post, make_settings, moderator, run_server

pytestmark = pytest.mark.asyncio(loop_scope="module")

WAIT_MS = 10_000
BACKGROUND = "getComputedStyle(document.body).backgroundColor"


async def test_the_theme_setting_and_the_console_switch_change_every_screen(
    browser: Browser, store_url: str,
) -> None:
    """HASHWALL_THEME=light gives a light wall; a moderator's High contrast turns the open
    wall and phone black at once, and a screen opened later starts with it; a wrong name is
    refused."""
    port = free_port()
    settings = make_settings(store_url=store_url, public_url=f"http://127.0.0.1:{port}",
                             theme="light", trusted_authors=["trusted"])
    async with run_server(settings, port=port) as server:
        await server.wall.pipeline.ingest(make_post(1, handle="trusted"))
        wall_context = await new_context(browser, 1920, 1080)
        phone_context = await new_context(browser, 390, 844, is_mobile=True)
        tablet = await new_context(browser, 1024, 768, has_touch=True)
        try:
            wall = await wall_context.new_page()
            await wall.goto(f"{server.base}/wall")
            await wait_until(wall, "() => document.body.dataset.connection === 'open'")
            assert await wall.evaluate(BACKGROUND) == "rgb(244, 246, 250)"
            phone = await phone_context.new_page()
            await phone.goto(f"{server.base}/")
            await wait_until(phone, "() => document.querySelectorAll('.post').length === 1")

            console = await tablet.new_page()
            await console.goto(f"{server.base}/moderate")
            await console.fill("input[name=name]", "ana")
            await console.fill("input[name=password]", PASSWORD)
            await console.click("#sign-in")
            await console.click('[role=tab][data-tab="announce"]')
            await wait_until(console, "() => document.querySelector('[data-theme=light]')"
                             ".getAttribute('aria-pressed') === 'true'")
            await console.locator('.themes [data-theme="high-contrast"]').tap()
            await wait_until(console, "() => document.querySelector('[data-theme="
                             "high-contrast]').getAttribute('aria-pressed') === 'true'")
            for page in (wall, phone):
                await wait_until(page, f"() => {BACKGROUND} === 'rgb(0, 0, 0)'")
            await wait_until(console, "() => document.querySelector('[data-theme="
                             "high-contrast]').getAttribute('aria-pressed') === 'true'")
            late = await wall_context.new_page()
            await late.goto(f"{server.base}/wall")
            await wait_until(late, f"() => {BACKGROUND} === 'rgb(0, 0, 0)'")
            async with moderator(server) as http:
                refused = await http.post("/api/theme", json={"theme": "neon"})
                assert refused.status_code == 400 and "high-contrast" in refused.json()["error"]
            for page in (wall, phone, console):
                assert await injected(page) == []
        finally:
            for context in (wall_context, phone_context, tablet):
                await context.close()
