"""The console's queue model (wall_ui/js/moderate_model.js) on its own, with no page around it:
messages in, state and "what changed" out."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page

from tests.browser import new_context
from tests.utils import make_settings, run_server

module_loop = pytest.mark.asyncio(loop_scope="module")

JS = Path(__file__).resolve().parents[1] / "wall_ui" / "js"
# The scenario runs in the page's JavaScript engine; it reaches the model only by import.
PRELUDE = """
const { QueueModel, ruleName } = await import("/static/js/moderate_model.js");
const item = (n, extra = {}) => ({ post: { id: `x:${n}`, author: { handle: `a${n}` },
  text: `post ${n}` }, status: "pending", received_at: n, updated_at: n, claimed_by: null,
  shares: 0, ...extra });
const changed = (c) => ({ ...c, ids: [...c.ids].sort() });
const ids = (items) => items.map((i) => i.post.id);
const model = new QueueModel();
model.apply({ type: "queue.snapshot", moderator: "ana",
  pending: [item(3), item(1), item(2, { claimed_by: "ben" }), item(4, { claimed_by: "ana" })],
  approved: [item(9, { status: "approved", updated_at: 9 })],
  wall: { mode: "pre", paused: false, pinned: null }, recent: [] }, 100);
"""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def page(browser: Browser, tmp_path_factory: pytest.TempPathFactory
               ) -> AsyncIterator[Page]:
    """A page of a server, only to give the model a JavaScript engine and its origin."""
    store = tmp_path_factory.mktemp("model") / "wall.db"
    async with run_server(make_settings(store_url=f"sqlite:///{store}")) as server:
        context = await new_context(browser, 800, 600)
        try:
            tab = await context.new_page()
            await tab.goto(f"{server.base}/static/css/style.css")
            yield tab
        finally:
            await context.close()


async def run(page: Page, body: str) -> Any:
    """Run `body` after the prelude, in an async function, and return its result."""
    return await page.evaluate(f"async () => {{ {PRELUDE}\n{body} }}")


def test_the_model_names_no_dom() -> None:
    """The model and the wire names it imports use nothing of a page: no document, window,
    element or event, so they run anywhere JavaScript does."""
    for name in ("moderate_model.js", "protocol.js"):
        source = (JS / name).read_text(encoding="utf-8")
        code = re.sub(r"//.*", "", source)
        for word in ("document", "window", "HTMLElement", "Node", "addEventListener",
                     "localStorage", "navigator"):
            assert not re.search(rf"\b{word}\b", code), f"{name} uses {word}"
        imports = re.findall(r'from "([^"]+)"', code)
        assert set(imports) <= {"./protocol.js"}, imports


@module_loop
async def test_queue_order_puts_my_batch_first_then_free_then_colleagues(page: Page) -> None:
    """Own batch first, free posts next, a colleague's batch last, oldest first within each;
    posts this tablet already decided are left out."""
    result = await run(page, """
      return [ids(model.queueOrder()), ids(model.queueOrder((id) => id === "x:1")),
              model.nextAfter("x:1", () => false), model.nextAfter("x:2", () => false)];
    """)
    assert result == [["x:4", "x:1", "x:3", "x:2"], ["x:4", "x:3", "x:2"], "x:3", "x:4"]


@module_loop
async def test_a_decision_moves_one_post_and_says_only_what_changed(page: Page) -> None:
    """A colleague's approval moves the post from the queue to the wall list, reports that one
    id, an activity entry and a notice, and replaces the item instead of changing it."""
    result = await run(page, """
      const before = model.pending.get("x:1");
      const c = model.apply({ type: "queue.decided", id: "x:1", action: "approve",
        status: "approved", moderator: "ben" }, 200);
      const mine = model.apply({ type: "queue.decided", id: "x:3", action: "reject",
        status: "rejected", moderator: "ana" }, 201);
      return { c: changed(c), mineNotice: mine.notice, pending: ids(model.queueOrder()),
        approved: ids(model.wallOrder()), untouched: before.status,
        decidedBy: model.approved.get("x:1").decided_by };
    """)
    c = result["c"]
    assert c["ids"] == ["x:1"] and c["queue"] and c["wall"] and not c["all"]
    assert c["notice"] == "ben approved @a1"
    assert c["activity"] == [{"at": 200, "actor": "ben", "action": "approve", "postId": "x:1",
                              "after": "approved", "rule": None}]
    assert result["mineNotice"] is None  # one's own decisions need no notice
    assert result["pending"] == ["x:4", "x:2"]
    assert result["approved"] == ["x:1", "x:9"]
    assert result["untouched"] == "pending" and result["decidedBy"] == "ben"


@module_loop
async def test_claims_shares_and_pins_touch_only_their_posts(page: Page) -> None:
    """A claim reorders the queue, a share count changes one card without reordering, a pin
    reports the post pinned before and the one pinned now."""
    result = await run(page, """
      const claim = changed(model.apply({ type: "queue.claimed", ids: ["x:3", "x:404"],
        moderator: "ana", until: 999 }));
      const order = ids(model.queueOrder());
      const share = changed(model.apply({ type: "queue.shares", id: "x:2", shares: 7 }));
      model.apply({ type: "post.pinned", id: "x:9" });
      const repin = changed(model.apply({ type: "post.pinned", id: "x:1" }));
      const mode = changed(model.apply({ type: "wall.mode", mode: "post" }));
      return { claim, order, share, shares: model.pending.get("x:2").shares, repin, mode,
        wall: model.wall };
    """)
    assert result["claim"]["ids"] == ["x:3"] and result["claim"]["queue"]
    assert result["order"] == ["x:3", "x:4", "x:1", "x:2"]
    assert result["share"]["ids"] == ["x:2"] and not result["share"]["queue"]
    assert result["shares"] == 7
    assert result["repin"]["ids"] == ["x:1", "x:9"] and result["repin"]["wall"]
    assert result["mode"]["ids"] == [] and result["mode"]["wallState"]
    assert result["wall"] == {"mode": "post", "paused": False, "pinned": "x:1"}


@module_loop
async def test_posts_the_rules_decided_show_in_the_activity_with_rule_names_in_words(
    page: Page,
) -> None:
    """A post the rules rejected is not queued but listed as activity by the rules; rule
    identifiers read as words."""
    result = await run(page, """
      const c = changed(model.apply({ type: "queue.added", item: item(7, {
        status: "rejected", rule: "blocked_word", decided_by: null }) }));
      return { c, queued: model.pending.has("x:7"), kept: model.item("x:7").status,
        names: ["blocked_word", "blocked_words", "bot_flood", "some_new_rule", ""]
          .map(ruleName) };
    """)
    c = result["c"]
    assert c["ids"] == ["x:7"] and not c["queue"] and not c["wall"]
    assert c["activity"][0]["actor"] == "rules" and c["activity"][0]["after"] == "rejected"
    assert result["queued"] is False and result["kept"] == "rejected"
    assert result["names"] == ["Blocked word", "Blocked words", "Bot flood", "Some new rule", ""]
