"""Layout, measured: every post of every network, with long texts, handles, words, URLs and
quotes, fits its card or ends in an ellipsis (never a line cut in half) on the projector at
1920×1080 and 1024×768 in grid, spotlight and mosaic, and on a 390×844 phone."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Browser, Page

from moderation.post import Kind, Post
from moderation.queue import Action
from tests.browser import injected, new_context, screenshot, wait_until
from tests.utils import RunningServer, make_settings, moderator, run_server
from tests.wall_posts import author, network_posts

pytestmark = pytest.mark.asyncio(loop_scope="module")

# What is wrong with the cards under `selector`: a part outside its card, a text that
# overflows without an ellipsis or stops in the middle of a line, a name cut without "…".
PROBLEMS = """(selector) => {
  const out = [];
  const parts = ".author, .who, .meta, .name, .handle, .network, .ago, .shares, .text,"
    + " .quoted, .gallery";
  for (const card of document.querySelectorAll(selector)) {
    const id = card.dataset.id;
    const box = card.getBoundingClientRect();
    for (const node of card.querySelectorAll(parts)) {
      const r = node.getBoundingClientRect();
      if (!r.width || !r.height || getComputedStyle(node).display === "none") continue;
      const what = `${id} ${node.className}`;
      if (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1
          || r.bottom > box.bottom + 1) {
        out.push([what, "outside its card", [r.top, r.bottom, box.top, box.bottom]]);
      }
      const style = getComputedStyle(node);
      if (node.scrollWidth > node.clientWidth + 1 && style.textOverflow !== "ellipsis") {
        out.push([what, "wider than its box", node.scrollWidth, node.clientWidth]);
      }
      if (node.classList.contains("text")) {
        const clamped = style.webkitLineClamp !== "none";
        if (node.scrollHeight > node.clientHeight + 1 && !clamped) {
          out.push([what, "cut without an ellipsis", node.scrollHeight, node.clientHeight]);
        }
        const lines = node.clientHeight / parseFloat(style.lineHeight);
        if (clamped && Math.abs(lines - Math.round(lines)) > 0.2) {
          out.push([what, "stops inside a line", lines]);
        }
      }
    }
  }
  return out;
}"""

# Put each of the feed's posts on the wall in turn, through the stage's own placing and
# fitting, and collect what is wrong after each.
EVERY_POST = """async (selector) => {
  const { feed, stage } = window.hashwall;
  const check = (""" + PROBLEMS + """);
  const out = [];
  for (const post of feed.recent()) {
    stage.place(post, false);
    await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
    out.push(...check(selector));
  }
  return out;
}"""

WALL_SIZES = [(1920, 1080), (1024, 768)]


async def approve_all(server: RunningServer) -> list[str]:
    """Queue and approve the layout's worst cases; their ids."""
    posts = network_posts()
    for post in posts:
        await server.wall.pipeline.ingest(post)
        # Through the store: the ids of Mastodon and Bluesky posts hold slashes, which the
        # /api/posts/{id}/{action} route does not take.
        await server.wall.store.decide(post.id, Action.APPROVE, "ana")
    quoting = next(p for p in posts if p.id == "x:102")
    for n in range(12):  # "♻ 10+" beside a long handle
        await server.wall.pipeline.ingest(Post(
            id=f"x:{900 + n}", network="x", author=author(f"fan{n}", "Fan"), text="RT",
            created_at=quoting.created_at, kind=Kind.RETWEET, referenced=quoting))
    return [post.id for post in posts]


async def badges(page: Page, selector: str) -> dict[str, list[str | None]]:
    """Each card's network badge and handle, by post id."""
    found: dict[str, list[str | None]] = await page.evaluate(
        """(selector) => Object.fromEntries([...document.querySelectorAll(selector)].map((c) =>
             [c.dataset.id, [c.querySelector('.network')?.textContent ?? null,
                             c.querySelector('.handle')?.textContent ?? null]]))""", selector)
    return found


EXPECTED = {
    "x:101": ["X", "@ada"],
    "mastodon:https://mastodon.social/users/chloe/statuses/1":
        ["Mastodon", "@chloe_lefebvre_journaliste@mastodon.social"],
    "bluesky:at://did:plc:abc/app.bsky.feed.post/3k":
        ["Bluesky", "@tres.long.nom.de.compte.officiel.bsky.social"],
    "onsite:7": ["posté dans la salle", None],
}


@pytest.mark.parametrize("layout", ["grid", "spotlight", "mosaic"])
async def test_every_post_fits_its_card_on_the_projector(browser: Browser, store_url: str,
                                                         layout: str) -> None:
    """In each layout at both projector sizes, each post, placed in turn, stays inside its
    card, and its text either fits or ends in an ellipsis on a whole line."""
    settings = make_settings(store_url=store_url, wall_layout=layout)
    async with run_server(settings) as server:
        ids = await approve_all(server)
        for width, height in WALL_SIZES:
            context = await new_context(browser, width, height)
            try:
                page = await context.new_page()
                await page.goto(f"{server.base}/wall")
                await wait_until(page, "(n) => window.hashwall?.feed.posts.size === n", len(ids))
                assert await page.evaluate("document.body.dataset.layout") == layout
                problems = await page.evaluate(EVERY_POST, "#posts .post")
                assert problems == [], (layout, width, problems)
                await screenshot(page, f"layout-{layout}-{width}x{height}")
                assert await injected(page) == []
            finally:
                await context.close()


async def test_posts_fit_on_a_phone_and_name_their_network(browser: Browser,
                                                           store_url: str) -> None:
    """On a 390×844 phone every card fits its width, each shows its network's badge and
    the handle in that network's form; the console shows the same badges."""
    async with run_server(make_settings(store_url=store_url)) as server:
        ids = await approve_all(server)
        context = await new_context(browser, 390, 844, is_mobile=True, has_touch=True)
        try:
            page = await context.new_page()
            await page.goto(f"{server.base}/")
            await wait_until(page, "(n) => document.querySelectorAll('.post').length >= n",
                             len(ids))
            assert await page.evaluate(PROBLEMS, ".post") == []
            shown = await badges(page, ".post")
            for post_id, expected in EXPECTED.items():
                assert shown[post_id] == expected, post_id
            assert await injected(page) == []
        finally:
            await context.close()


async def test_the_wall_switches_to_the_mosaic_when_recent_posts_carry_photos(
    browser: Browser, store_url: str,
) -> None:
    """With the default `auto` layout the wall is a grid of text posts, and becomes the photo
    mosaic, the newest photo in its large place, once enough recent posts carry photos."""
    from tests.wall_posts import author, photo, post

    async with run_server(make_settings(store_url=store_url)) as server:
        async with moderator(server) as http:
            async def show(*posts: Any) -> None:
                for item in posts:
                    await server.wall.pipeline.ingest(item)
                    response = await http.post(f"/api/posts/{item.id}/approve")
                    assert response.status_code == 200, response.text

            await show(*[post(n, f"Texte {n} #uemedef14", author("t", "T")) for n in range(1, 4)])
            context = await new_context(browser, 1920, 1080)
            try:
                page = await context.new_page()
                await page.goto(f"{server.base}/wall")
                await wait_until(page, "() => window.hashwall?.feed.posts.size === 3")
                assert await page.evaluate("document.body.dataset.layout") == "grid"
                await show(*[post(n, f"Photo {n} #uemedef14", author("p", "P"),
                                  media=(photo(f"scene-{n}", "La scène"),))
                             for n in range(4, 6)])
                await wait_until(page, "() => document.body.dataset.layout === 'mosaic'")
                await wait_until(page, "() => document.querySelector('#posts .post.big')"
                                 "?.querySelector('.gallery img.loaded')")
                big = await page.evaluate("document.querySelector('#posts .post.big').dataset.id")
                assert big in ("x:4", "x:5")
                await wait_until(page, "() => document.getAnimations()"
                                 ".every((a) => a.playState !== 'running')")
                assert await page.evaluate(PROBLEMS, "#posts .post") == []
            finally:
                await context.close()
