"""The site icon: /favicon.ico and the icon every page links, with no 404 on any page."""

from __future__ import annotations

import httpx
import pytest
from playwright.async_api import Browser, Response

from tests.browser import new_context
from tests.utils import make_settings, run_server

pytestmark = pytest.mark.asyncio(loop_scope="module")

PAGES = ("/", "/wall", "/moderate")


async def test_favicon_is_an_icon_under_the_content_security_policy(store_url: str) -> None:
    """GET /favicon.ico answers a real ICO image, with the same security headers as the pages."""
    async with run_server(make_settings(store_url=store_url)) as server:
        async with httpx.AsyncClient(base_url=server.base) as http:
            response = await http.get("/favicon.ico")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/x-icon"
    assert response.content[:4] == b"\x00\x00\x01\x00"  # the ICO header: an icon resource
    assert "img-src 'self'" in response.headers["content-security-policy"]


async def test_pages_link_an_icon_and_load_without_a_404(browser: Browser, store_url: str) -> None:
    """The phone view, the wall and the console each link an icon that loads as an image, and
    nothing any of them asks for answers 404."""
    async with run_server(make_settings(store_url=store_url)) as server:
        context = await new_context(browser, 1280, 800)
        failed: list[str] = []

        def record(response: Response) -> None:
            if response.status >= 400:
                failed.append(f"{response.status} {response.url}")

        context.on("response", record)
        try:
            page = await context.new_page()
            for path in PAGES:
                await page.goto(server.base + path, wait_until="networkidle", timeout=10_000)
                icons = await page.evaluate(
                    """async () => Promise.all([...document.querySelectorAll("link[rel~=icon]")]
                         .map(async (link) => {
                           const answer = await fetch(link.href);
                           return [answer.status, answer.headers.get("content-type")];
                         }))""")
                assert icons, f"{path} links no icon"
                for status, kind in icons:
                    assert status == 200 and kind.startswith("image/"), (path, status, kind)
        finally:
            await context.close()
    assert failed == []
