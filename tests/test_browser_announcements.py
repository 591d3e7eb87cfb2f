"""Announcements are the organiser's voice: a banner or ticker with the event's logo, beside
a pinned post, never among the posts nor signed "@hashwall"; they can end by themselves."""

from __future__ import annotations

import time

import pytest
from playwright.async_api import Browser

from tests.browser import injected, new_context, wait_until
from tests.utils import PASSWORD, free_port, make_post, make_settings, moderator, run_server

pytestmark = pytest.mark.asyncio(loop_scope="module")

WAIT_MS = 10_000


async def test_an_announcement_is_a_banner_beside_the_pinned_post(browser: Browser,
                                                                  store_url: str) -> None:
    """With a post pinned, an announcement shows in the banner with the logo while the pin
    stays featured; the phone shows it signed by the event, and the console's activity says
    who announced what, in plain words."""
    port = free_port()
    settings = make_settings(store_url=store_url, public_url=f"http://127.0.0.1:{port}",
                             trusted_authors=["trusted"], logo_url="/static/img/hashwall.svg")
    async with run_server(settings, port=port) as server:
        for n in range(1, 4):
            await server.wall.pipeline.ingest(make_post(n, handle="trusted"))
        wall_context = await new_context(browser, 1920, 1080)
        phone_context = await new_context(browser, 390, 844, is_mobile=True, has_touch=True)
        tablet = await new_context(browser, 1366, 1024, has_touch=True)
        try:
            phone = await phone_context.new_page()  # open before: it features the newest
            await phone.goto(f"{server.base}/")
            await wait_until(phone, "() => document.querySelectorAll('.post').length === 3")
            async with moderator(server) as http:
                assert (await http.post("/api/posts/x:2/pin")).status_code == 200
                answer = await http.post("/api/announce",
                                         json={"text": "Déjeuner sous le chapiteau"})
                assert answer.status_code == 200, answer.text
                refused = await http.post("/api/announce", json={"text": "x", "duration": "long"})
                assert refused.status_code == 400 and "duration" in refused.json()["error"]
            wall = await wall_context.new_page()
            await wall.goto(f"{server.base}/wall")
            banner = wall.locator("#announcement")
            await banner.wait_for(timeout=WAIT_MS)
            assert await wall.text_content("#announcement-text") == "Déjeuner sous le chapiteau"
            await wait_until(wall, "() => document.querySelector('#announcement-logo')"
                             ".naturalWidth > 0")
            await wall.locator('#featured [data-id="x:2"]').wait_for(timeout=WAIT_MS)
            assert "@hashwall" not in await wall.inner_text("body")
            assert await wall.locator("#posts .post.announcement").count() == 0
            bar, stage = await banner.bounding_box(), await wall.locator("#stage").bounding_box()
            assert bar and stage and bar["y"] + bar["height"] <= stage["y"]  # never mixed
            assert bar["width"] > 1920 * 0.9  # full width

            card = phone.locator(".post.announcement")
            await card.wait_for(timeout=WAIT_MS)
            assert "@hashwall" not in await card.inner_text()
            assert await card.locator(".logo-avatar img").count() == 1

            console = await tablet.new_page()
            await console.goto(f"{server.base}/moderate")
            await console.fill("input[name=name]", "ana")
            await console.fill("input[name=password]", PASSWORD)
            await console.click("#sign-in")
            await console.click('[role=tab][data-tab="activity"]')
            lines = console.locator("#activity li")
            await lines.first.wait_for(timeout=WAIT_MS)
            texts = await lines.all_inner_texts()
            assert any("ana announced" in t and "Déjeuner sous le chapiteau" in t
                       for t in texts), texts
            assert any("ana pinned" in t for t in texts), texts
            assert not any("(rules)" in t for t in texts), texts
            assert not any("Automatic rules" in t and "Déjeuner" in t for t in texts), texts
            for page in (wall, phone, console):
                assert await injected(page) == []
        finally:
            for context in (wall_context, phone_context, tablet):
                await context.close()


async def test_a_ticker_with_a_duration_leaves_by_itself(browser: Browser,
                                                         store_url: str) -> None:
    """With HASHWALL_ANNOUNCEMENT_STYLE=ticker the text scrolls; an announcement given a
    duration leaves the wall once it has passed."""
    settings = make_settings(store_url=store_url, announcement_style="ticker")
    async with run_server(settings) as server:
        context = await new_context(browser, 1024, 768)
        try:
            page = await context.new_page()
            await page.clock.install(time=time.time())
            await page.goto(f"{server.base}/wall")
            await wait_until(page, "() => document.body.dataset.connection === 'open'")
            async with moderator(server) as http:
                answer = await http.post("/api/announce", json={
                    "text": "Les navettes partent dans dix minutes", "duration": 30})
                assert answer.status_code == 200, answer.text
            banner = page.locator("#announcement")
            await banner.wait_for(timeout=WAIT_MS)
            assert await banner.evaluate("(b) => b.classList.contains('announcement-ticker')")
            name = await page.evaluate(
                "getComputedStyle(document.querySelector('#announcement-text')).animationName")
            assert name == "ticker"
            await page.clock.run_for(10_000)
            assert await banner.is_visible()
            await page.clock.run_for(25_000)
            await banner.wait_for(state="hidden", timeout=WAIT_MS)
        finally:
            await context.close()
