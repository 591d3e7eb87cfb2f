"""Share counts in headless Chromium: the wall, the phone view and the moderator console."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page

from moderation.post import Kind, Post
from tests.browser import new_context, wait_until
from tests.utils import PASSWORD, free_port, make_post, make_settings, run_server

pytestmark = pytest.mark.asyncio(loop_scope="module")

COUNTS = """() => Object.fromEntries(Array.from(document.querySelectorAll('.post'))
    .map((card) => [card.dataset.id, card.querySelector('.meta .shares')?.textContent ?? null]))"""


def retweet(n: int, of: Post) -> Post:
    """Retweet number `n` of a post."""
    return make_post(n, text=f"RT @{of.author.handle}: {of.text}", handle=f"fan{n}",
                     kind=Kind.RETWEET, referenced=of)


async def counts_are(page: Page, expected: dict[str, str | None]) -> None:
    """Wait until these cards show these counts (None: the card shows no count)."""
    check = f"""(expected) => {{
        const seen = ({COUNTS})();
        return Object.entries(expected).every(([id, text]) => seen[id] === text);
    }}"""
    try:
        await wait_until(page, check, expected)
    except TimeoutError:
        found = await page.evaluate(COUNTS)
        raise AssertionError(f"expected {expected}, the page shows {found}") from None


async def console_count(page: Page, post_id: str) -> str | None:
    """The share count the console shows on a queued post."""
    text: str | None = await page.evaluate(
        "(id) => document.querySelector(`#queue .card[data-id='${id}'] .hits .shares`)"
        "?.textContent ?? null", post_id)
    return text


async def test_counts_show_on_the_wall_phone_and_console_and_follow_retweets(
    browser: Browser, store_url: str,
) -> None:
    """Shared posts carry "♻ n" (or "♻ 10+") on the wall and phones, unshared ones nothing;
    a new retweet updates every screen live; the console shows the exact count."""
    port = free_port()
    settings = make_settings(store_url=store_url, trusted_authors=["trusted"],
                             public_url=f"http://127.0.0.1:{port}")
    one = make_post(1, text="La plénière commence #uemedef14", handle="trusted")
    two = make_post(2, text="Le chapiteau est plein #uemedef14", handle="trusted")
    async with run_server(settings, port=port) as server:
        ingest = server.wall.pipeline.ingest
        await ingest(retweet(101, one))
        for n in range(11):
            await ingest(retweet(201 + n, two))
        await ingest(make_post(3, text="Pas de retweet pour moi #uemedef14", handle="trusted"))
        await ingest(retweet(301, make_post(4, text="En attente #uemedef14")))  # pending
        phone_context = await new_context(browser, 390, 844, is_mobile=True, has_touch=True)
        wall_context = await new_context(browser, 1920, 1080)
        tablet = await new_context(browser, 1280, 800)
        try:
            phone, wall = await phone_context.new_page(), await wall_context.new_page()
            await phone.goto(f"{server.base}/")
            await wall.goto(f"{server.base}/wall")
            expected = {"x:1": "♻ 1", "x:2": "♻ 10+", "x:3": None}
            await counts_are(phone, expected)
            await counts_are(wall, expected)  # six slots: all three posts are on the wall
            label = await phone.get_attribute('.post[data-id="x:1"] .shares', "aria-label")
            assert label is not None and label.startswith("1 ")
            await ingest(retweet(102, one))
            for page in (phone, wall):
                await counts_are(page, {**expected, "x:1": "♻ 2"})
            # The wall keeps the count for a card it draws later (rotation, featured place).
            assert await wall.evaluate(
                "() => window.hashwall.feed.posts.get('x:1').shares") == 2
            console = await tablet.new_page()
            await console.goto(f"{server.base}/moderate")
            await console.fill("input[name=name]", "ana")
            await console.fill("input[name=password]", PASSWORD)
            await console.click("button[type=submit]")
            await console.locator('#queue .card[data-id="x:4"]').wait_for(timeout=10_000)
            assert await console_count(console, "x:4") == " · ♻ 1 retweet"
            await ingest(retweet(302, make_post(4, text="En attente #uemedef14")))
            await wait_until(console, "() => document.querySelector("
                             "'#queue .card[data-id=\"x:4\"] .hits .shares')"
                             "?.textContent === ' · ♻ 2 retweets'")
        finally:
            for context in (phone_context, wall_context, tablet):
                await context.close()
