"""One very long post against the real wall in Chromium: cut at ingest, fitted in bounded time."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser

from tests.browser import new_context, overflowing, wait_until
from tests.utils import make_post, make_settings, moderator, run_server

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_a_25000_character_word_renders_in_a_bounded_fit(browser: Browser,
                                                               store_url: str) -> None:
    """A trusted post of one 25,000-character word, and one of 200,000, are shown fitted in
    a fixed number of layout steps, nothing overflows, and the page stays responsive.
    (A word of 25,000 "A"s is the one that froze Chromium's layout for a minute.)"""
    settings = make_settings(store_url=store_url, trusted_authors=["trusted"])
    async with run_server(settings) as running:
        context = await new_context(browser, 1920, 1080)
        page = await context.new_page()
        await page.goto(f"{running.base}/wall")
        await wait_until(page, "() => document.body.dataset.connection === 'open'")
        await running.wall.pipeline.ingest(make_post(1, "A" * 25_000, handle="trusted"))
        await running.wall.pipeline.ingest(make_post(2, "B" * 200_000, handle="trusted"))
        await wait_until(page, """() => document.querySelectorAll('#posts .post').length === 2
            && Array.from(document.querySelectorAll('#posts .post'))
                .every((c) => Number(c.dataset.fitSteps) > 0)""")
        steps = await page.eval_on_selector_all(
            "#posts .post", "cards => cards.map((c) => Number(c.dataset.fitSteps))")
        # Two binary searches at most (with and without the image's room) of 7 layouts each.
        assert all(0 < n <= 14 for n in steps), steps
        # No text wider than its card; what does not fit in height is clipped inside it.
        assert await overflowing(page) == []
        assert await page.evaluate("1 + 1") == 2
        async with moderator(running) as http:
            shown = (await http.get("/api/posts")).json()["posts"]
        longest = max(shown, key=lambda p: len(p["text"]))
        assert len(longest["text"]) == 26_000 and longest["text"].endswith("…")
        assert longest["extra"]["truncated_from"] == 200_000
        await context.close()
