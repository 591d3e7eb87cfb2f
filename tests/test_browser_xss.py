"""User content never runs: an injection corpus through the phone view and the wall."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Browser, Page

from moderation.post import Author, Entity, Kind, Media, Post, Status
from moderation.queue import Verdict
from tests.browser import injected, new_context, overflowing, settled, wait_until
from tests.utils import RunningServer, make_settings, run_server
from tests.xss_corpus import PAYLOADS

pytestmark = pytest.mark.asyncio(loop_scope="module")

TAIL = " https://t.co/x #uemedef14"
ALLOWED_TAGS = {"ARTICLE", "HEADER", "SPAN", "BDI", "TIME", "P", "A", "IMG", "DIV", "BLOCKQUOTE"}



def hostile(n: int, payload: str, kind: Kind = Kind.QUOTE) -> Post:
    """A post carrying `payload` in every field a page displays or links to."""
    text = payload + TAIL
    url_at = text.index("https://t.co/x", len(payload))
    tag_at = text.index("#uemedef14", len(payload))
    quoted = Post(id=f"x:q{n}", network="x", text=payload, created_at=payload,
                  author=Author(id="q", handle=payload, name=payload, avatar_url=payload))
    return Post(
        id=f"x:{n}", network="x", kind=kind, text=text, created_at="2014-08-27T09:00:00.000Z",
        author=Author(id=f"u{n}", handle=payload, name=payload, avatar_url=payload),
        entities=(
            Entity("url", url_at, url_at + len("https://t.co/x"), "https://t.co/x", payload,
                   payload),
            Entity("hashtag", tag_at, tag_at + len("#uemedef14"), "#uemedef14"),
            Entity("mention", 0, min(3, len(payload)), payload[:3]),
        ),
        media=(Media("photo", f"https://pbs.twimg.com/media/{n}.jpg", None, payload, 10, 10),
               Media("photo", payload, payload, payload, 10, 10)),
        permalink=payload, lang=payload, referenced=quoted if kind is Kind.QUOTE else None,
    )


async def assert_inert(page: Page, scripts: int) -> None:
    """Nothing ran, no script or handler came from content, links and images are http(s)."""
    assert await injected(page) == []
    report = await page.evaluate("""() => {
        const all = Array.from(document.querySelectorAll('*'));
        const posts = Array.from(document.querySelectorAll('.post, .post *'));
        return {
          scripts: document.scripts.length,
          handlers: all.flatMap((e) => Array.from(e.attributes).map((a) => a.name))
            .filter((name) => name.startsWith('on')),
          styles: posts.filter((e) => e.hasAttribute('style') && !e.classList.contains('post')
            && !e.classList.contains('avatar')).length,
          tags: Array.from(new Set(posts.map((e) => e.tagName))),
          links: Array.from(document.querySelectorAll('.post a')).map((a) => [a.protocol, a.rel,
            a.getAttribute('href')]),
          images: Array.from(document.querySelectorAll('.post img')).map((i) => i.src),
          frames: document.querySelectorAll('iframe, object, embed, frame, base, body style, '
            + 'body link, body meta').length,
        };
    }""")
    assert report["scripts"] == scripts
    assert report["handlers"] == []
    assert report["styles"] == 0
    assert set(report["tags"]) <= ALLOWED_TAGS, report["tags"]
    assert report["frames"] == 0
    for protocol, rel, _href in report["links"]:
        assert protocol in ("http:", "https:") and rel == "noopener noreferrer nofollow"
    assert all(src.startswith(("http://", "https://")) for src in report["images"])


async def shown(page: Page) -> dict[str, list[str]]:
    """Each card's text, author name and first image's alt text, by post id."""
    found: dict[str, list[str]] = await page.evaluate("""Object.fromEntries(
        Array.from(document.querySelectorAll('#posts > .post')).map((card) =>
          [card.dataset.id, [card.querySelector(':scope > .text').textContent,
                             card.querySelector('.name').textContent,
                             card.querySelector('.media').alt]]))""")
    return found


def expected_text(payload: str) -> str:
    """What the card reads: the payload, the link's display (the payload) and the hashtag."""
    return f"{payload} {payload} #uemedef14"


async def fill(server: RunningServer) -> None:
    """Every payload as an approved post, straight into the queue."""
    for n, payload in enumerate(PAYLOADS, start=1):
        await server.wall.store.submit(hostile(n, payload), Verdict(Status.APPROVED, "test"))


async def test_corpus_stays_text_on_the_phone_view(browser: Browser, store_url: str) -> None:
    """Each payload is shown as text in every field of a phone's list; none executes."""
    async with run_server(make_settings(store_url=store_url, recent_posts=500)) as server:
        await fill(server)
        context = await new_context(browser, 390, 844)
        page = await context.new_page()
        await page.goto(f"{server.base}/")
        await wait_until(page, "(n) => document.querySelectorAll('#posts > .post').length === n",
                         len(PAYLOADS))
        await assert_inert(page, scripts=1)
        cards = await shown(page)
        for n, payload in enumerate(PAYLOADS, start=1):
            text, name, alt = cards[f"x:{n}"]
            assert text.strip() == expected_text(payload).strip(), payload
            assert (name, alt) == (payload, payload)
        await context.close()


async def test_corpus_stays_text_on_the_wall(browser: Browser, store_url: str) -> None:
    """The wall's cards, its featured place and its renderer keep every payload inert."""
    async with run_server(make_settings(store_url=store_url, recent_posts=500)) as server:
        await fill(server)
        await server.wall.store.announce(
            hostile(9999, PAYLOADS[0], Kind.ANNOUNCEMENT), "ana")
        context = await new_context(browser, 1920, 1080)
        page = await context.new_page()
        await page.goto(f"{server.base}/wall")
        await page.wait_for_selector("#announcement:not([hidden])", timeout=10_000)
        # The announcement is a banner above the posts, its text inert: a full stage below.
        assert (await page.text_content("#announcement-text") or "").startswith(PAYLOADS[0])
        await wait_until(page, "() => document.querySelectorAll('#posts .post').length"
                         " === window.hashwall.stage.capacity()")
        await settled(page)
        assert await overflowing(page, vertical=True) == []
        # Every payload through the wall's own renderer, in the page and under its CSP.
        rendered: Any = await page.evaluate("""async () => {
            const { renderPost } = await import('/static/js/render.js');
            const { posts } = await (await fetch('/api/posts?status=approved&limit=500')).json();
            const box = document.createElement('section');
            box.id = 'all';
            for (const post of posts) box.append(renderPost(post));
            document.body.append(box);
            return posts.length;
        }""")
        assert rendered == len(PAYLOADS) + 1
        await assert_inert(page, scripts=1)
        assert await overflowing(page) == []
        await context.close()
