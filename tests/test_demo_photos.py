"""The demo shows its bundled photos, served by hashwall itself, with no network."""

from __future__ import annotations

import httpx
import pytest
from playwright.async_api import Browser

from server.cli import demo_settings
from tests.browser import injected, new_context, wait_until
from tests.utils import make_settings, run_server

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_the_demo_wall_shows_bundled_photos_from_its_own_server(browser: Browser,
                                                                      store_url: str) -> None:
    """With the demo's settings the wall's photos come from /demo/photos/, load, and fade
    in; no image points at X's hosts, which the demo cannot reach offline."""
    settings = demo_settings(store_url=store_url, replay_speed=0, wall_layout="mosaic",
                             public_url="http://127.0.0.1:8000")
    async with run_server(settings) as server:
        context = await new_context(browser, 1920, 1080)
        try:
            page = await context.new_page()
            await page.goto(f"{server.base}/wall")
            loaded = await wait_until(page, """() => [...document.querySelectorAll(
                '.gallery img.loaded')].filter((i) => i.naturalWidth > 0)
                .map((i) => new URL(i.src).pathname)""", timeout=30)
            assert all(path.startswith("/demo/photos/") for path in loaded), loaded
            remote = await page.evaluate("""[...document.querySelectorAll('.gallery img')]
                .map((i) => i.src).filter((s) => s.includes('twimg.com'))""")
            assert remote == []
            assert await injected(page) == []
        finally:
            await context.close()


async def test_bundled_photos_are_served_only_by_name_and_only_for_the_demo(
    store_url: str,
) -> None:
    """/demo/photos/ serves the bundled JPEGs and nothing else; outside the demo the pages
    get no photo map."""
    async with run_server(make_settings(store_url=store_url)) as server:
        async with httpx.AsyncClient(base_url=server.base) as http:
            photo = await http.get("/demo/photos/stage-blue.jpg")
            assert photo.status_code == 200 and photo.headers["content-type"] == "image/jpeg"
            assert photo.content[:3] == b"\xff\xd8\xff"
            for name in ("nope.jpg", "..%2Fsettings.py", "LICENSE"):
                assert (await http.get(f"/demo/photos/{name}")).status_code == 404, name
            assert "photos" not in (await http.get("/api/config")).json()
