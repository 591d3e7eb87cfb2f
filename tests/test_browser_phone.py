"""The phone view in headless Chromium against a real server."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Browser, Page, Response

from moderation.post import Status
from moderation.queue import Verdict
from tests.browser import (
    distinct_colours,
    injected,
    new_context,
    overflowing,
    screenshot,
    wait_until,
)
from tests.utils import RunningServer, make_post, make_settings, moderator, run_server
from tests.wall_posts import announcement, hard_posts

pytestmark = pytest.mark.asyncio(loop_scope="module")

PHONE = {"width": 390, "height": 844}
APPROVED = Verdict(Status.APPROVED, "test")



async def approve(server: RunningServer, *posts: Any) -> None:
    for post in posts:
        await server.wall.store.submit(post, APPROVED)


async def open_phone(browser: Browser, server: RunningServer, **options: Any) -> Page:
    context = await new_context(browser, PHONE["width"], PHONE["height"], is_mobile=True,
                                has_touch=True, **options)
    page = await context.new_page()
    await page.goto(f"{server.base}/")
    await wait_until(page, "() => document.body.dataset.connection === 'open'")
    return page


async def ids(page: Page) -> list[str]:
    found: list[str] = await page.eval_on_selector_all(
        "#posts > .post", "cards => cards.map((c) => c.dataset.id)")
    return found


async def test_phone_view_is_light_accessible_and_laid_out(browser: Browser,
                                                          store_url: str) -> None:
    """Under 100 KB before images, landmarks and a quiet live region, light and dark."""
    async with run_server(make_settings(store_url=store_url)) as server:
        posts = hard_posts()
        await approve(server, *posts)
        weights: dict[str, int] = {}

        async def weigh(response: Response) -> None:
            if response.request.resource_type not in ("image", "websocket", "media"):
                weights[response.url] = len(await response.body())

        for scheme in ("light", "dark"):
            context = await new_context(browser, PHONE["width"], PHONE["height"],
                                        is_mobile=True, color_scheme=scheme)
            page = await context.new_page()
            page.on("response", weigh)
            await page.goto(f"{server.base}/")
            await wait_until(page, """(n) => document.querySelectorAll('#posts > .post')
                .length === n && document.fonts.status === 'loaded'""", len(posts))
            await wait_until(page, """() => Array.from(document.images).every((i) => i.complete
                || i.getBoundingClientRect().top > innerHeight)""")  # lazy below the fold
            png = await screenshot(page, f"phone-{scheme}-390x844")
            assert await distinct_colours(page, png) >= 24
            assert await overflowing(page) == []
            assert await ids(page) == [p.id for p in reversed(posts)]
            background = await page.evaluate("getComputedStyle(document.body).backgroundColor")
            assert background == ("rgb(243, 244, 247)" if scheme == "light"
                                  else "rgb(15, 20, 32)")
            await context.close()
        total = sum(weights.values())
        assert total < 100_000, weights
        assert any(url.endswith("/static/js/phone.js") for url in weights)
        page = await open_phone(browser, server)
        a11y = await page.evaluate("""({
            lang: document.documentElement.lang,
            banner: document.querySelectorAll('body > header').length,
            main: document.querySelectorAll('main').length,
            feed: document.querySelector('#posts').getAttribute('role'),
            feedLabel: document.querySelector('#posts').getAttribute('aria-labelledby'),
            live: document.querySelectorAll('[aria-live]').length,
            liveOnList: document.querySelector('#posts').closest('[aria-live]') !== null,
            title: document.querySelector('h1').textContent,
            older: document.querySelector('#older').textContent,
        })""")
        assert a11y == {"lang": "fr", "banner": 1, "main": 1, "feed": "feed",
                        "feedLabel": "posts-title", "live": 1, "liveOnList": False,
                        "title": "Université d'été du MEDEF",
                        "older": "Publications plus anciennes"}
        await page.context.close()


async def test_phone_view_is_live_newest_first_and_loads_older(browser: Browser,
                                                               store_url: str) -> None:
    """Live posts go on top, hidden ones leave, "older" pages back through the history."""
    async with run_server(make_settings(store_url=store_url)) as server:
        await approve(server, *(make_post(n) for n in range(1, 56)))
        page = await open_phone(browser, server)
        await wait_until(page, "() => document.querySelectorAll('#posts > .post').length === 30")
        assert await ids(page) == [f"x:{n}" for n in range(55, 25, -1)]
        await page.click("#older")
        await wait_until(page, "() => document.querySelectorAll('#posts > .post').length === 50")
        assert await page.is_visible("#older")
        await page.click("#older")
        await page.wait_for_selector("#end", state="visible", timeout=10_000)
        assert await page.text_content("#end") == "Vous avez tout vu."
        assert await page.is_hidden("#older")
        await approve(server, make_post(56))
        await page.wait_for_selector('#posts > .post[data-id="x:56"]', timeout=10_000)
        async with moderator(server) as http:
            assert (await http.post("/api/posts/x:3/hide")).status_code == 200
        await page.wait_for_selector('[data-id="x:3"]', state="detached", timeout=10_000)
        assert await ids(page) == [f"x:{n}" for n in range(56, 0, -1) if n != 3]
        # An announcement stands above the list, not in it.
        await server.wall.store.announce(announcement(1, "Pause café jusqu'à 11 h"), "ana")
        await page.wait_for_selector('#featured [data-id="hashwall:1"]', timeout=10_000)
        assert await page.text_content("#featured .featured-label") == "Annonce"
        assert "hashwall:1" not in await ids(page)
        assert await injected(page) == []
        await page.context.close()


async def test_live_region_sums_up_a_burst_in_one_announcement(browser: Browser,
                                                               store_url: str) -> None:
    """Twenty posts at once make one polite announcement, not twenty."""
    async with run_server(make_settings(store_url=store_url)) as server:
        page = await open_phone(browser, server)
        await page.evaluate("""() => {
            window.__said = [];
            new MutationObserver(() => window.__said.push(
                document.querySelector('#live').textContent))
              .observe(document.querySelector('#live'),
                       { childList: true, characterData: true, subtree: true });
        }""")
        await approve(server, *(make_post(n) for n in range(1, 21)))
        await wait_until(page, "() => window.__said.length > 0")
        assert await page.evaluate("window.__said") == ["20 nouvelles publications"]
        assert len(await ids(page)) == 20
        await page.context.close()


async def test_phone_view_on_a_slow_and_unsteady_network(browser: Browser,
                                                          store_url: str) -> None:
    """On a slow link the posts arrive; offline it says so, and back online it catches up."""
    async with run_server(make_settings(store_url=store_url)) as server:
        await approve(server, *(make_post(n) for n in range(1, 31)))
        context = await new_context(browser, PHONE["width"], PHONE["height"], is_mobile=True)
        page = await context.new_page()
        cdp = await context.new_cdp_session(page)
        # About a slow 3G link: 400 ms round trips, 400 kbit/s down.
        await cdp.send("Network.emulateNetworkConditions", {
            "offline": False, "latency": 400, "downloadThroughput": 50_000,
            "uploadThroughput": 50_000})
        await page.goto(f"{server.base}/")
        await wait_until(page, "() => document.querySelectorAll('#posts > .post').length === 30",
                         timeout=30)
        await context.set_offline(True)
        await page.wait_for_selector("#offline", state="visible", timeout=10_000)
        assert await page.text_content("#offline") == "Hors ligne — reconnexion…"
        assert len(await ids(page)) == 30  # what was read stays
        await approve(server, make_post(31))
        await context.set_offline(False)
        await page.wait_for_selector('#posts > .post[data-id="x:31"]', timeout=20_000)
        assert await page.is_hidden("#offline")
        assert len(await ids(page)) == 31
        await context.close()
