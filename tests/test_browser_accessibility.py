"""Accessibility, checked by axe-core (bundled by axe-playwright-python): no serious or
critical violation on the phone view, the wall, the console and its login, in French and in
English."""

from __future__ import annotations

from typing import Any

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page

from tests.browser import new_context, wait_until
from tests.utils import PASSWORD, free_port, make_settings, run_server
from tests.wall_posts import network_posts

pytestmark = pytest.mark.asyncio(loop_scope="module")

WAIT_MS = 10_000
SEVERE = {"serious", "critical"}


async def severe(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now."""
    results = await Axe().run(page)
    return [{"id": v["id"], "impact": v["impact"],
             "nodes": [n["target"] for n in v["nodes"]][:5]}
            for v in results.response["violations"] if v["impact"] in SEVERE]


@pytest.mark.parametrize("language", ["fr", "en"])
async def test_no_serious_violation_on_any_page(browser: Browser, store_url: str,
                                                language: str) -> None:
    """/, /wall, the login page and the signed-in console pass axe-core with posts of every
    network on screen."""
    from moderation.queue import Action

    port = free_port()
    settings = make_settings(store_url=store_url, public_url=f"http://127.0.0.1:{port}",
                             language=language)
    async with run_server(settings, port=port) as server:
        posts = network_posts()
        for post in posts:
            await server.wall.pipeline.ingest(post)
        for post in posts[:4]:
            await server.wall.store.decide(post.id, Action.APPROVE, "ana")
        found: dict[str, Any] = {}
        phone_context = await new_context(browser, 390, 844, is_mobile=True, has_touch=True)
        wall_context = await new_context(browser, 1920, 1080)
        tablet = await new_context(browser, 1024, 768, has_touch=True)
        try:
            phone = await phone_context.new_page()
            await phone.goto(f"{server.base}/")
            await wait_until(phone, "() => document.querySelectorAll('.post').length === 4")
            found["/"] = await severe(phone)
            wall = await wall_context.new_page()
            await wall.goto(f"{server.base}/wall")
            await wait_until(wall, "() => document.querySelectorAll('#posts .post').length >= 4")
            await wait_until(wall, "() => document.getAnimations()"
                             ".every((a) => a.playState !== 'running')")
            found["/wall"] = await severe(wall)
            console = await tablet.new_page()
            await console.goto(f"{server.base}/moderate")
            await console.locator("#login").wait_for(timeout=WAIT_MS)
            found["login"] = await severe(console)
            await console.fill("input[name=name]", "ana")
            await console.fill("input[name=password]", PASSWORD)
            await console.click("#sign-in")
            await console.locator("#queue .card").first.wait_for(timeout=WAIT_MS)
            found["/moderate"] = await severe(console)
            for tab in ("activity", "announce", "rules", "sources"):
                await console.click(f'[role=tab][data-tab="{tab}"]')
                found[f"/moderate {tab}"] = await severe(console)
        finally:
            for context in (phone_context, wall_context, tablet):
                await context.close()
        assert {page: problems for page, problems in found.items() if problems} == {}
