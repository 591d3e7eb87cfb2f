"""The console with 2,000 pending posts: it lists them all (the snapshot, then pages of the
API) and each event changes one card, counted with a MutationObserver."""

from __future__ import annotations

import time
from typing import Any

import pytest
from playwright.async_api import Browser, Page

from moderation.post import Kind
from moderation.queue import Action
from tests.browser import injected, new_context, wait_until
from tests.utils import PASSWORD, free_port, make_post, make_settings, run_server

pytestmark = pytest.mark.asyncio(loop_scope="module")

PENDING = 2000

# Records every mutation under the queue list and tags every card present now, so that a
# later look tells which cards were touched and which are still the very same nodes.
WATCH = """() => {
  const list = document.getElementById("queue");
  window.__cards = new WeakSet(list.children);
  window.__records = [];
  window.__watch?.disconnect();
  window.__watch = new MutationObserver((records) => window.__records.push(...records));
  window.__watch.observe(list, { subtree: true, childList: true, attributes: true,
                                 characterData: true });
}"""

# Which cards the recorded mutations touched (a card added or removed counts as touched).
TOUCHED = """() => {
  const list = document.getElementById("queue");
  window.__records.push(...window.__watch.takeRecords());
  const ids = new Set();
  for (const record of window.__records) {
    if (record.target === list) {
      for (const node of [...record.addedNodes, ...record.removedNodes]) ids.add(node.dataset.id);
    } else {
      const card = record.target.closest ? record.target.closest(".card")
        : record.target.parentElement.closest(".card");
      ids.add(card ? card.dataset.id : "?");
    }
  }
  const kept = [...list.children].filter((card) => window.__cards.has(card)).length;
  return { records: window.__records.length, ids: [...ids].sort(), kept,
           cards: list.children.length };
}"""


async def touched(page: Page) -> dict[str, Any]:
    """The cards touched since the last WATCH, and how many cards are the same nodes."""
    found: dict[str, Any] = await page.evaluate(TOUCHED)
    return found


async def test_one_event_changes_one_card_among_two_thousand(browser: Browser,
                                                             store_url: str) -> None:
    """With 2,000 posts pending the console lists every one; a colleague's decision removes
    one card, a new post adds one, a retweet redraws one; every other card stays the same
    node."""
    port = free_port()
    settings = make_settings(store_url=store_url, public_url=f"http://127.0.0.1:{port}",
                             trusted_authors=[])
    async with run_server(settings, port=port) as server:
        for n in range(1, PENDING + 1):
            await server.wall.pipeline.offer(make_post(n, text=f"Question {n} pour le panel"))
        await server.wall.pipeline.settled()
        tablet = await new_context(browser, 1366, 1024, has_touch=True)
        try:
            page = await tablet.new_page()
            started = time.monotonic()
            await page.goto(f"{server.base}/moderate")
            await page.fill("input[name=name]", "ana")
            await page.fill("input[name=password]", PASSWORD)
            await page.click("button[type=submit]")
            await wait_until(page, f"() => document.querySelectorAll('#queue .card').length"
                             f" === {PENDING}", timeout=60)
            print(f"\n2,000 pending posts listed {time.monotonic() - started:.2f} s after sign-in")
            assert await page.locator("#depth").inner_text() == str(PENDING)
            ids = await page.evaluate(
                "() => [...document.querySelectorAll('#queue .card')].map((c) => c.dataset.id)")
            assert ids == [f"x:{n}" for n in range(1, PENDING + 1)]  # oldest first, once each

            await page.evaluate(WATCH)
            await server.wall.store.decide("x:1500", Action.APPROVE, "ben")
            await page.locator('#queue .card[data-id="x:1500"]').wait_for(state="detached",
                                                                          timeout=10_000)
            seen = await touched(page)
            assert seen["ids"] == ["x:1500"] and seen["records"] == 1, seen
            assert seen["kept"] == seen["cards"] == PENDING - 1

            await page.evaluate(WATCH)
            await server.wall.pipeline.ingest(make_post(PENDING + 1, text="Une de plus"))
            await page.locator(f'#queue .card[data-id="x:{PENDING + 1}"]').wait_for(
                timeout=10_000)
            seen = await touched(page)
            assert seen["ids"] == [f"x:{PENDING + 1}"] and seen["records"] == 1, seen
            assert seen["kept"] == PENDING - 1 and seen["cards"] == PENDING

            await page.evaluate(WATCH)
            original = make_post(700, text="Question 700 pour le panel")
            await server.wall.pipeline.ingest(make_post(9001, text="RT", handle="fan",
                                                        kind=Kind.RETWEET, referenced=original))
            await wait_until(page, "() => document.querySelector("
                             "'#queue .card[data-id=\"x:700\"] .hits .shares')?.textContent"
                             " === ' · ♻ 1 retweet'")
            seen = await touched(page)
            assert seen["ids"] == ["x:700"] and seen["records"] == 1, seen
            assert seen["kept"] == PENDING - 1  # every card but the retweeted one
            assert await injected(page) == []
        finally:
            await tablet.close()
