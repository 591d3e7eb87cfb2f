"""The moderator console on touch tablets (1024×768, 1366×1024): every control visible and
labelled in words, focus never under the sticky header, readable contrast, no browser dialog,
the sign-in wait shown, and every source's health."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page

from tests.browser import injected, new_context, wait_until
from tests.utils import PASSWORD, free_port, make_post, make_settings, moderator, run_server

pytestmark = pytest.mark.asyncio(loop_scope="module")

ROOT = Path(__file__).resolve().parents[1]
WAIT_MS = 10_000
TABLETS = [(1024, 768), (1366, 1024)]

# WCAG contrast ratio of an element's text against the first opaque background behind it.
CONTRAST = """(selector) => {
  // rgb(r g b / a) in 0-255, or color(srgb r g b / a) in 0-1 (what color-mix computes to)
  const parse = (c) => {
    const n = c.match(/[\\d.]+/g).map(Number);
    return c.startsWith("color(") ? [...n.slice(0, 3).map((v) => v * 255), ...n.slice(3)] : n;
  };
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const shown = [...document.querySelectorAll(selector)].filter((n) => n.offsetParent !== null);
  return shown.map((node) => {
    let back = node;
    let bg = null;
    while (back) {
      const value = parse(getComputedStyle(back).backgroundColor);
      if (value.length < 4 || value[3] === 1) { bg = value; break; }
      back = back.parentElement;
    }
    const fg = lum(parse(getComputedStyle(node).color));
    const b = lum(bg || [255, 255, 255]);
    return (Math.max(fg, b) + 0.05) / (Math.min(fg, b) + 0.05);
  });
}"""


async def sign_in(page: Page, base: str, name: str = "ana") -> None:
    """Open the console and sign in with the shared password."""
    await page.goto(f"{base}/moderate")
    await page.fill("input[name=name]", name)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("#sign-in")
    await page.locator("#console").wait_for(state="visible", timeout=WAIT_MS)


async def box(page: Page, selector: str) -> dict[str, float]:
    """The bounding box of the first match, which must be visible."""
    found = await page.locator(selector).first.bounding_box()
    assert found is not None, selector
    return dict(found)


@pytest.mark.parametrize(("width", "height"), TABLETS)
async def test_every_control_is_visible_and_labelled_on_a_tablet(
    browser: Browser, store_url: str, width: int, height: int,
) -> None:
    """The Queue tab shows with its count, no empty band sits under the header, each header
    control says in words what it does, export links and hints reach 4.5:1, rule names read
    as words, and focus moved by keys never leaves a card under the sticky header."""
    port = free_port()
    settings = make_settings(store_url=store_url, public_url=f"http://127.0.0.1:{port}",
                             trusted_authors=[])
    async with run_server(settings, port=port) as server:
        async with moderator(server) as http:
            rules = (await http.get("/api/rules")).json()
            response = await http.put("/api/rules", json={**rules["rules"], "hold_links": True})
            assert response.status_code == 200, response.text
        for n in range(1, 16):
            await server.wall.pipeline.ingest(make_post(n, text=f"Question {n} pour le panel"))
        await server.wall.pipeline.ingest(
            make_post(16, text="Le programme https://example.org/programme"))
        tablet = await new_context(browser, width, height, has_touch=True)
        try:
            page = await tablet.new_page()
            await sign_in(page, server.base)
            await page.locator('#queue .card[data-id="x:16"]').wait_for(timeout=WAIT_MS)
            queue_tab = page.locator('[role=tab][data-tab="queue"]')
            assert await queue_tab.is_visible()
            assert "16" in await queue_tab.inner_text()
            bar, tabs = await box(page, ".bar"), await box(page, ".tabs")
            assert tabs["y"] - (bar["y"] + bar["height"]) < 12  # no empty band
            for tool in ("undo", "claim", "mode", "pause"):
                hint = page.locator(f"#{tool} .tool-hint")
                assert await hint.is_visible() and len(await hint.inner_text()) > 5, tool
            assert await page.locator("#console [title]:not(.rule-badge)").count() == 0
            badge = page.locator('#queue .card[data-id="x:16"] .rule-badge')
            assert await badge.inner_text() == "Has a link"

            await page.click('[role=tab][data-tab="activity"]')
            ratios = await page.evaluate(CONTRAST, ".exports a, .exports, .hint, .tool-hint")
            assert ratios and min(ratios) >= 4.5, ratios

            await page.click('[role=tab][data-tab="queue"]')
            for _ in range(12):
                await page.keyboard.press("j")
            for _ in range(3):  # scroll away, then come back with K: the card moves into view
                await page.mouse.wheel(0, 400)
            await page.keyboard.press("k")
            await wait_until(page, "() => document.querySelector('.card.focused')")
            focused = await box(page, ".card.focused")
            bar = await box(page, ".bar")
            assert focused["y"] >= bar["y"] + bar["height"] - 1, (focused, bar)
            assert await injected(page) == []
        finally:
            await tablet.close()


async def test_the_mode_switch_asks_on_the_page_not_in_a_dialog(browser: Browser,
                                                                 store_url: str) -> None:
    """Switching to post-moderation asks inline; "Keep it" changes nothing, the confirming
    button switches the wall for everyone; no browser dialog opens."""
    port = free_port()
    settings = make_settings(store_url=store_url, public_url=f"http://127.0.0.1:{port}")
    async with run_server(settings, port=port) as server:
        tablet = await new_context(browser, 1024, 768, has_touch=True)
        try:
            page = await tablet.new_page()
            await sign_in(page, server.base)
            await page.locator("#mode").tap()
            question = page.locator("#mode-confirm")
            await question.wait_for(timeout=WAIT_MS)
            assert "at once" in await question.inner_text()
            await page.locator("#mode-no").tap()
            await question.wait_for(state="hidden", timeout=WAIT_MS)
            assert (await server.wall.store.wall_state()).mode == "pre"
            await page.locator("#mode").tap()
            await page.locator("#mode-yes").tap()
            await wait_until(page, "() => document.querySelector('#mode')"
                             ".getAttribute('aria-pressed') === 'true'")
            assert (await server.wall.store.wall_state()).mode == "post"
            assert "Post-moderation" in await page.locator("#mode").inner_text()
            assert await injected(page) == []  # no confirm(), no console error
        finally:
            await tablet.close()


async def test_a_throttled_sign_in_shows_how_long_to_wait(browser: Browser,
                                                          store_url: str) -> None:
    """After repeated wrong passwords the login page says "try again in N s" and disables
    the button, from the server's own wait."""
    async with run_server(make_settings(store_url=store_url)) as server:
        tablet = await new_context(browser, 1024, 768, has_touch=True)
        try:
            page = await tablet.new_page()
            await page.goto(f"{server.base}/moderate")
            await page.fill("input[name=name]", "ana")
            message = page.locator("#login-error")
            for _ in range(12):
                await page.fill("input[name=password]", "wrong")
                if await page.locator("#sign-in").is_disabled():
                    break
                async with page.expect_response("**/api/login"):
                    await page.click("#sign-in")
                await wait_until(page, "() => document.getElementById('login-error')"
                                 ".textContent !== ''")
                if "try again in" in await message.inner_text():
                    break
            text = await message.inner_text()
            seconds: Any = text.split("try again in ")[1].split(" s")[0]
            assert int(seconds) > 0, text
            assert await page.locator("#sign-in").is_disabled()
        finally:
            await tablet.close()


async def test_the_sources_panel_shows_each_source_in_words(browser: Browser,
                                                            store_url: str) -> None:
    """The Sources tab lists every running source with its state and fields in words."""
    port = free_port()
    settings = make_settings(store_url=store_url, public_url=f"http://127.0.0.1:{port}",
                             replay_file=ROOT / "server" / "demo" / "demo_stream.jsonl",
                             replay_speed=0)
    async with run_server(settings, port=port) as server:
        tablet = await new_context(browser, 1366, 1024, has_touch=True)
        try:
            page = await tablet.new_page()
            await sign_in(page, server.base)
            await page.click('[role=tab][data-tab="sources"]')
            source = page.locator("#sources .source").first
            await source.wait_for(timeout=WAIT_MS)
            text = await source.inner_text()
            assert text.startswith("replay — working"), text
            terms = await source.locator("dt").all_inner_texts()
            assert "Lines read" in terms and "Last error" in terms
            assert not [term for term in terms if "_" in term], terms
        finally:
            await tablet.close()
