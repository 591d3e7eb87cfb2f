"""The projector wall in headless Chromium against a real server."""

from __future__ import annotations

import dataclasses
import json
import re
import time
from typing import Any

import pytest
from playwright.async_api import Browser, Page

from moderation.post import Status
from moderation.queue import PUBLIC, Action, Verdict
from moderation.store import create_store
from tests.browser import (
    distinct_colours,
    new_context,
    overflowing,
    screenshot,
    wait_until,
)
from tests.utils import RunningServer, make_post, make_settings, moderator, run_server
from tests.wall_posts import announcement, hard_posts

pytestmark = pytest.mark.asyncio(loop_scope="module")

WAIT_MS = 10_000
TRUSTED = "trusted"



def settings(store_url: str, **overrides: Any) -> Any:
    return make_settings(store_url=store_url, trusted_authors=[TRUSTED], **overrides)


async def approve(server: RunningServer, *posts: Any) -> None:
    """Queue posts that a moderator then approves, in order."""
    async with moderator(server) as http:
        for post in posts:
            await server.wall.pipeline.ingest(post)
            response = await http.post(f"/api/posts/{post.id}/approve")
            assert response.status_code == 200, response.text


async def open_wall(browser: Browser, server: RunningServer, width: int = 1920,
                    height: int = 1080) -> Page:
    context = await new_context(browser, width, height)
    page = await context.new_page()
    await page.goto(f"{server.base}/wall")
    await wait_until(page, "() => document.body.dataset.connection === 'open'")
    return page


async def cards(page: Page, selector: str = "#posts .post") -> list[str]:
    ids: list[str] = await page.eval_on_selector_all(selector, "n => n.map(c => c.dataset.id)")
    return ids


async def settled(page: Page, count: int) -> None:
    """Wait for `count` cards, their fonts and their images, so a screenshot is stable."""
    await wait_until(page, """(count) => document.querySelectorAll("#posts .post").length === count
        && document.fonts.status === "loaded"
        && Array.from(document.images).every((img) => img.complete || !img.getClientRects().length)
        && document.getAnimations().every((a) => a.playState !== "running")""", count)


async def check_screen(page: Page, name: str, count: int) -> None:
    """A screenshot that is not blank, no text outside its card, no broken image shown."""
    await settled(page, count)
    png = await screenshot(page, name)
    assert await distinct_colours(page, png) >= 24, f"{name} looks blank"
    assert await overflowing(page, vertical=True) == [], name
    broken = await page.evaluate(
        """Array.from(document.images).filter((i) => i.getClientRects().length
             && i.naturalWidth === 0).map((i) => i.src)""")
    assert broken == [], f"{name} shows broken images"
    # Every avatar shows a picture or its initial: never an empty circle.
    bare = await page.evaluate("""Array.from(document.querySelectorAll('.avatar'))
        .filter((a) => !a.querySelector('img') && !a.textContent.trim()).length""")
    assert bare == 0


async def test_wall_lays_out_hard_posts_at_projector_sizes(browser: Browser,
                                                           store_url: str) -> None:
    """At 1920×1080 and 1024×768 the wall shows 6 and 4 cards: header, QR code, no overflow."""
    async with run_server(settings(store_url)) as server:
        posts = hard_posts()
        await approve(server, *posts)
        newest = [p.id for p in reversed(posts)]
        page = await open_wall(browser, server)
        await check_screen(page, "wall-1920x1080", 6)
        assert sorted(await cards(page)) == sorted(newest[:6])
        header = await page.evaluate("""[document.querySelector('#title').textContent,
            document.querySelector('#tags').textContent,
            document.querySelector('#qr').naturalWidth > 100,
            document.querySelector('#join-text').textContent]""")
        assert header == ["Université d'été du MEDEF", "#uemedef14  #Paroles2CEO", True,
                          "Suivez le mur sur votre téléphone"]
        # Long texts are fitted, and stay large enough to read from the back of the room.
        sizes = await page.eval_on_selector_all(
            "#posts .text", "n => n.map(t => parseFloat(getComputedStyle(t).fontSize))")
        assert min(sizes) >= 1080 * 0.042 * 0.5 - 0.5
        # The broken image left no hole and the RTL text reads right to left.
        rtl = await page.evaluate("""(() => {
            const text = document.querySelector('[data-id="x:11"] .text');
            return getComputedStyle(text).direction + ' ' + text.querySelector('.hashtag')
                .textContent;
        })()""")
        assert rtl == "rtl #uemedef14"
        assert await page.locator('[data-id="x:8"] .gallery').count() == 0
        await page.set_viewport_size({"width": 1024, "height": 768})
        await check_screen(page, "wall-1024x768", 4)
        # Hiding what is shown brings the older posts on screen: they lay out too.
        async with moderator(server) as http:
            for post_id in await cards(page):
                assert (await http.post(f"/api/posts/{post_id}/hide")).status_code == 200
        await wait_until(page, """(shown) => Array.from(document.querySelectorAll('#posts .post'))
            .every((c) => !shown.includes(c.dataset.id))""", newest[:4])
        await check_screen(page, "wall-1024x768-older", 4)
        await page.context.close()


async def test_spotlight_layout_in_english_with_an_announcement(browser: Browser,
                                                                store_url: str) -> None:
    """Branding settings change the layout, language, colours; an announcement is a banner
    with the event's logo above the posts."""
    branded = settings(store_url, wall_layout="spotlight", language="en",
                       event_title="Future of Work Forum", color_accent="#ffb300",
                       hashtags=["#fow24"], logo_url="/static/img/hashwall.svg",
                       font_family="'Liberation Serif', serif")
    async with run_server(branded) as server:
        recent = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - 7200))
        await approve(server, *hard_posts()[:2],
                      dataclasses.replace(hard_posts()[2], created_at=recent))
        await server.wall.store.announce(announcement(1, "Keynote starts in 5 minutes "
                                                         "in the main hall 🎤"), "ana")
        page = await open_wall(browser, server)
        banner = page.locator("#announcement")
        await banner.wait_for(timeout=WAIT_MS)
        await check_screen(page, "wall-spotlight-en-1920x1080", 1)
        state = await page.evaluate("""[document.documentElement.lang,
            document.querySelector('#join-text').textContent,
            document.querySelector('#announcement-text').textContent,
            getComputedStyle(document.querySelector('.tags')).color]""")
        assert state == ["en", "Follow the wall on your phone",
                         "Keynote starts in 5 minutes in the main hall 🎤", "rgb(255, 179, 0)"]
        brand = await page.evaluate("""[document.querySelector('.logo').naturalWidth,
            getComputedStyle(document.querySelector('.title')).fontFamily,
            document.querySelector('#posts .ago').textContent,
            document.querySelector('#announcement-logo').naturalWidth]""")
        assert brand == [64, '"hashwall emoji", "Liberation Serif", serif', "2 hours ago", 64]
        # The announcement is the organiser's banner, never a card among the posts.
        assert "@hashwall" not in await banner.inner_text()
        assert await page.is_hidden("#featured")
        assert await cards(page) == ["x:3"]
        await page.context.close()


async def test_pin_takes_the_featured_place_and_pause_holds_new_posts(browser: Browser,
                                                                     store_url: str) -> None:
    """A pin fills the featured place; a pause keeps what is shown and holds the new."""
    async with run_server(settings(store_url)) as server:
        store = server.wall.store
        for n in range(1, 5):
            await server.wall.pipeline.ingest(make_post(n, handle=TRUSTED))
        page = await open_wall(browser, server)
        await settled(page, 4)
        assert await store.pin("x:2", "ana")
        await page.wait_for_selector('#featured [data-id="x:2"]', timeout=WAIT_MS)
        assert await page.text_content(".featured-label") == "À la une"
        assert "x:2" not in await cards(page)
        assert await store.set_paused(True, "ana")
        await wait_until(page, "() => document.body.dataset.paused === 'true'")
        await server.wall.pipeline.ingest(make_post(5, handle=TRUSTED))
        seq = await store.last_seq(PUBLIC)
        await wait_until(page, "(seq) => document.body.dataset.seq === String(seq)", seq)
        assert "x:5" not in await cards(page)  # the event arrived and was held
        # During the pause a retraction still applies at once.
        async with moderator(server) as http:
            assert (await http.post("/api/posts/x:1/hide")).status_code == 200
        await page.wait_for_selector('[data-id="x:1"]', state="detached", timeout=WAIT_MS)
        assert "x:5" not in await cards(page)
        # A wall that opens during the pause learns the pause and the pin from its snapshot.
        late = await open_wall(browser, server)
        await late.wait_for_selector('#featured [data-id="x:2"]', timeout=WAIT_MS)
        assert await late.evaluate("document.body.dataset.paused") == "true"
        assert await late.is_visible("#paused-sign")
        await late.context.close()
        assert await store.set_paused(False, "ana")
        await page.wait_for_selector('#posts [data-id="x:5"]', timeout=WAIT_MS)
        # It arrives calmly: a slow fade and rise, not a jump.
        motion = await page.evaluate("""(() => {
            const style = getComputedStyle(document.querySelector('[data-id="x:5"]'));
            return [style.animationName, style.animationDuration];
        })()""")
        assert motion == ["arrive", "1.4s"]
        assert await store.unpin("ana") == "x:2"
        await page.wait_for_selector("#featured", state="hidden", timeout=WAIT_MS)
        await page.context.close()


async def test_a_hidden_post_leaves_the_wall_within_one_second(browser: Browser,
                                                              store_url: str) -> None:
    """From the moderator's hide request to the card leaving the page takes under 1 s."""
    async with run_server(settings(store_url)) as server:
        for n in range(1, 4):
            await server.wall.pipeline.ingest(make_post(n, handle=TRUSTED))
        page = await open_wall(browser, server)
        await settled(page, 3)
        await page.evaluate("""() => {
            window.__removedAt = null;
            new MutationObserver(() => {
              if (!document.querySelector('[data-id="x:2"]') && window.__removedAt === null) {
                window.__removedAt = Date.now();
              }
            }).observe(document.body, { childList: true, subtree: true });
        }""")
        async with moderator(server) as http:
            asked = time.time() * 1000
            assert (await http.post("/api/posts/x:2/hide")).status_code == 200
        await page.wait_for_selector('[data-id="x:2"]', state="detached", timeout=WAIT_MS)
        elapsed = await page.evaluate("window.__removedAt") - asked
        assert 0 <= elapsed < 1000, f"the hidden post stayed {elapsed:.0f} ms"
        assert sorted(await cards(page)) == ["x:1", "x:3"]
        await page.context.close()


async def test_wall_recovers_from_a_server_restart_without_gap_or_duplicate(
    browser: Browser, store_url: str
) -> None:
    """While the server is down the wall keeps its posts; then it resumes where it stopped."""
    config = settings(store_url)
    frames: list[tuple[str, dict[str, Any]]] = []
    async with run_server(config) as server:
        port = server.port
        for n in range(1, 6):
            await server.wall.pipeline.ingest(make_post(n, handle=TRUSTED))
        context = await new_context(browser, 1920, 1080)
        page = await context.new_page()

        def on_socket(ws: Any) -> None:
            ws.on("framereceived", lambda payload: frames.append((ws.url, _json(payload))))

        page.on("websocket", on_socket)
        await page.goto(f"{server.base}/wall")
        await settled(page, 5)
    # The server is gone: the posts stay, a discreet sign appears, no error text.
    await wait_until(page, "() => document.body.dataset.connection === 'closed'")
    assert len(await cards(page)) == 5
    assert await page.is_visible("#offline")
    assert await page.evaluate("document.querySelector('#offline').textContent") == ""
    # Meanwhile the queue moves on: two approvals and a hide the wall has not seen.
    store = create_store(config.store_url)
    await store.open()
    await store.submit(make_post(6, handle=TRUSTED), Verdict(Status.APPROVED, "trusted"))
    await store.submit(make_post(7, handle=TRUSTED), Verdict(Status.APPROVED, "trusted"))
    await store.decide("x:3", Action.HIDE, "ana")
    last = await store.last_seq(PUBLIC)
    await store.close()
    async with run_server(config, port=port):
        await wait_until(page, "(seq) => document.body.dataset.seq === String(seq)", last, 20)
        await wait_until(page, "() => document.querySelectorAll('#posts .post').length === 6")
        shown = await cards(page)
        assert sorted(shown) == ["x:1", "x:2", "x:4", "x:5", "x:6", "x:7"]
        assert not await page.is_visible("#offline")
    urls = list(dict.fromkeys(url for url, _ in frames))
    assert len(urls) == 2 and "/ws?since=5&epoch=" in urls[1], urls
    resumed = [message for url, message in frames if url == urls[1]]
    assert [(m["type"], m["seq"]) for m in resumed] == [
        ("post.shown", 6), ("post.shown", 7), ("post.retracted", 8)]
    await context.close()


def _json(payload: str | bytes) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(payload)
    return message


async def test_dom_stays_bounded_after_5000_posts(browser: Browser, store_url: str) -> None:
    """5,000 posts streamed fast leave the wall with as many nodes as a few cards need."""
    async with run_server(settings(store_url)) as server:
        for n in range(1, 7):
            await server.wall.pipeline.ingest(make_post(n, handle=TRUSTED))
        page = await open_wall(browser, server)
        await settled(page, 6)
        before = await page.evaluate("document.getElementsByTagName('*').length")
        for n in range(7, 5007):
            await server.wall.pipeline.ingest(make_post(n, handle=TRUSTED))
        last = await server.wall.store.last_seq(PUBLIC)
        await wait_until(page, "(seq) => document.body.dataset.seq === String(seq)", last, 60)
        state = await page.evaluate("""({
            nodes: document.getElementsByTagName('*').length,
            cards: document.querySelectorAll('.post').length,
            kept: window.hashwall.feed.posts.size,
            waiting: window.hashwall.stage.incoming.length,
            remembered: window.hashwall.stage.lastShown.size,
        })""")
        assert state["cards"] == 6
        assert state["nodes"] <= before + 20, (before, state)
        assert state["kept"] <= 60 and state["waiting"] <= 6 and state["remembered"] <= 60
        await page.context.close()


# Counts the page's live timers: what would pile up over days if anything leaked.
TIMER_COUNTER = """
window.__timers = { intervals: new Set(), timeouts: new Set() };
const setI = window.setInterval, clearI = window.clearInterval;
const setT = window.setTimeout, clearT = window.clearTimeout;
window.setInterval = (f, ms, ...a) => {
  const id = setI(f, ms, ...a); __timers.intervals.add(id); return id;
};
window.clearInterval = (id) => { __timers.intervals.delete(id); clearI(id); };
window.setTimeout = (f, ms, ...a) => {
  const id = setT((...b) => { __timers.timeouts.delete(id); f(...b); }, ms, ...a);
  __timers.timeouts.add(id); return id;
};
window.clearTimeout = (id) => { __timers.timeouts.delete(id); clearT(id); };
"""
HOUR_MS = 3600 * 1000


async def test_long_run_keeps_one_clock_rotates_drifts_and_holds_its_memory(
    browser: Browser, store_url: str
) -> None:
    """Eight simulated hours: posts rotate, the page drifts, timers and heap stay flat."""
    # The page's clock is simulated but the server's heartbeats are real: with them far
    # apart, none lands mid-test to arm the connection's watchdog on a slow machine.
    async with run_server(settings(store_url, heartbeat_seconds=300)) as server:
        context = await new_context(browser, 1920, 1080)
        page = await context.new_page()
        start = time.time()
        await page.clock.install(time=start)
        await page.add_init_script(TIMER_COUNTER)
        await page.goto(f"{server.base}/wall")
        await wait_until(page, "() => document.body.dataset.connection === 'open'")
        # Nothing approved yet: an invitation, not an empty screen.
        assert await page.text_content("#empty") == (
            "Publiez avec #uemedef14 #Paroles2CEO : vos messages apparaîtront ici.")
        assert await page.is_visible("#empty")
        recent = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(start - 300))
        for n in range(1, 11):
            await server.wall.pipeline.ingest(
                dataclasses.replace(make_post(n, handle=TRUSTED), created_at=recent))
        await wait_until(page, "() => document.querySelectorAll('#posts .post').length === 6")
        assert await page.is_hidden("#empty")
        assert await page.text_content('[data-id="x:1"] .ago') == "il y a 5 minutes"
        await page.evaluate("""() => {
            window.__seen = new Set();
            new MutationObserver(() => document.querySelectorAll('#posts .post')
              .forEach((c) => window.__seen.add(c.dataset.id)))
              .observe(document.querySelector('#posts'), { childList: true });
        }""")
        cdp = await context.new_cdp_session(page)

        async def heap() -> int:
            await cdp.send("HeapProfiler.collectGarbage")
            used: int = (await cdp.send("Runtime.getHeapUsage"))["usedSize"]
            return used

        await page.clock.run_for(2 * HOUR_MS)
        nodes = await page.evaluate("document.getElementsByTagName('*').length")
        early = await heap()
        await page.clock.run_for(6 * HOUR_MS)
        state = await page.evaluate("""({
            nodes: document.getElementsByTagName('*').length,
            cards: document.querySelectorAll('#posts .post').length,
            seen: window.__seen.size,
            intervals: window.__timers.intervals.size,
            timeouts: window.__timers.timeouts.size,
            shift: document.querySelector('#frame').style.getPropertyValue('--shift'),
            ago: document.querySelector('#posts .post .ago').textContent,
        })""")
        late = await heap()
        assert state["cards"] == 6 and state["nodes"] == nodes
        assert state["seen"] == 10  # every recent post came back on screen in turn
        assert state["intervals"] == 1 and state["timeouts"] == 0
        dx, dy = (int(v) for v in re.findall(r"-?\d+", state["shift"]))
        assert abs(dx) <= 6 and abs(dy) <= 6
        assert state["ago"] == "il y a 8 heures"
        assert late - early < 512 * 1024, (early, late)
        await context.close()
