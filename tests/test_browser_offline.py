"""Pages reloaded while the server is down: the service worker's copies and the saved feed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Error, Page

from moderation.post import Status
from moderation.queue import PUBLIC, Action, Verdict
from moderation.store import create_store
from server import service_worker
from tests.browser import injected, new_context, wait_until
from tests.test_console_browser import sign_in
from tests.utils import (
    RunningServer,
    free_port,
    make_post,
    make_settings,
    moderator,
    run_server,
    start_server,
    stop_server,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

TRUSTED = "trusted"
APPROVED = Verdict(Status.APPROVED, TRUSTED)
TITLE = "Université d'été du MEDEF"
# Looks like markup: restored from storage, it must still be text.
MARKUP = '<img src=x onerror="alert(1)"> <b>gras</b> #uemedef14'
BUILD = re.compile(r"^const BUILD = (.*);$", re.MULTILINE)


@dataclass(frozen=True)
class Screen:
    """One public page, as the tests open and read it."""

    path: str
    cards: str
    width: int
    height: int
    saved: int  # how many posts its saved copy holds at most
    mobile: bool = False


WALL = Screen("/wall", "#posts .post", 1920, 1080, saved=50)
PHONE = Screen("/", "#posts > .post", 390, 844, saved=100, mobile=True)


def settings(store_url: str, **overrides: Any) -> Any:
    # No rotation during a test: the cards on screen change only when the test says.
    return make_settings(store_url=store_url, trusted_authors=[TRUSTED],
                         wall_rotate_seconds=3600, **overrides)


async def open_screen(context: BrowserContext, base: str, screen: Screen) -> Page:
    """Open a page and wait until it is live and its service worker holds its copies."""
    page = await context.new_page()
    await page.goto(base + screen.path)
    await wait_until(page, "() => document.body.dataset.connection === 'open'")
    async with asyncio.timeout(10):
        assert await page.evaluate("navigator.serviceWorker.ready.then((r) => !!r.active)")
    return page


async def new_screen_context(browser: Browser, screen: Screen) -> BrowserContext:
    return await new_context(browser, screen.width, screen.height, is_mobile=screen.mobile,
                             has_touch=screen.mobile)


async def ids(page: Page, screen: Screen) -> list[str]:
    found: list[str] = await page.eval_on_selector_all(screen.cards,
                                                       "n => n.map((c) => c.dataset.id)")
    return found


async def reload_offline(page: Page, screen: Screen, count: int) -> None:
    """Reload while the server is out of reach: the page, not the browser's error."""
    await page.reload(timeout=15_000)
    assert not page.url.startswith("chrome-error://"), page.url
    assert page.url.endswith(screen.path)
    await wait_until(page, "([sel, n]) => document.querySelectorAll(sel).length === n",
                     [screen.cards, count])
    await wait_until(page, "() => document.body.dataset.connection === 'closed'")
    assert await page.is_visible("#offline")


def record_frames(page: Page) -> list[tuple[str, dict[str, Any]]]:
    """Every websocket message the page receives, with its socket's address."""
    frames: list[tuple[str, dict[str, Any]]] = []

    def on_socket(ws: Any) -> None:
        ws.on("framereceived", lambda payload: frames.append((ws.url, json.loads(payload))))

    page.on("websocket", on_socket)
    return frames


async def approve(server: RunningServer, post: Any) -> None:
    """A post from an ordinary author, approved by a moderator."""
    await server.wall.pipeline.ingest(post)
    async with moderator(server) as http:
        response = await http.post(f"/api/posts/{post.id}/approve")
        assert response.status_code == 200, response.text


@pytest.mark.parametrize("screen", [WALL, PHONE], ids=["wall", "phone"])
async def test_a_page_reloaded_offline_shows_its_posts_and_resumes_without_gap(
    browser: Browser, store_url: str, screen: Screen
) -> None:
    """Reloaded while the server is down, the page shows its title and the same posts with the
    offline sign; when the server is back it resumes after its saved seq, each post once."""
    config = settings(store_url, recent_posts=120)
    server = await start_server(config)
    port = server.port
    for n in range(1, 110):
        await server.wall.store.submit(make_post(n), APPROVED)
    await server.wall.store.submit(make_post(110, text=MARKUP), APPROVED)
    context = await new_screen_context(browser, screen)
    try:
        page = await open_screen(context, server.base, screen)
        frames = record_frames(page)
        shown = await ids(page, screen)
        assert "x:110" in shown
        last = await server.wall.store.last_seq(PUBLIC)
        await stop_server(server)
        await wait_until(page, "() => document.body.dataset.connection === 'closed'")
        # The page keeps a bounded copy: the posts it shows, no more than `saved`.
        saved = await wait_until(page, """([key, seq]) => {
            const saved = JSON.parse(localStorage.getItem(key));
            return saved && saved.seq === seq && saved;
        }""", ["hashwall.feed." + ("wall" if screen is WALL else "phone"), last])
        assert len(saved["posts"]) == screen.saved

        await reload_offline(page, screen, min(len(shown), screen.saved))
        assert await ids(page, screen) == shown[:screen.saved]
        assert await page.text_content("#title") == TITLE
        if screen is WALL:
            assert await page.evaluate("window.hashwall.feed.posts.size") == screen.saved
            assert await page.evaluate("""(() => { const qr = document.querySelector('#qr');
                return qr.complete && qr.naturalWidth > 100; })()""")
        # What came back from storage is text, as it was when it came from the server.
        text = await page.text_content('[data-id="x:110"] .text')
        assert text is not None and text.startswith('<img src=x onerror="alert(1)">')
        assert await page.locator('[data-id="x:110"] .text *:is(img, b)').count() == 0
        assert await injected(page) == []

        server = await start_server(config, port=port)
        await approve(server, make_post(111, text="Retour du réseau #uemedef14",
                                        handle="bruno"))
        await page.wait_for_selector(f'{screen.cards}[data-id="x:111"]', timeout=20_000)
        assert not await page.is_visible("#offline")
        after = await ids(page, screen)
        assert len(after) == len(set(after)), after
        if screen is PHONE:
            assert after == ["x:111", *shown[:screen.saved]]
        # The first socket that opened resumed after the saved seq: no snapshot, one event.
        resumed = [m for url, m in frames if f"/ws?since={last}&epoch=" in url]
        assert [(m["type"], m["seq"], m["post"]["id"]) for m in resumed] == [
            ("post.shown", last + 1, "x:111")]
        assert all(m["type"] != "snapshot" for _, m in frames)
    finally:
        await context.close()
        await stop_server(server)


async def wall_seen_then_stopped(
    context: BrowserContext, config: Any, count: int,
    then: Callable[[RunningServer], Awaitable[None]] | None = None,
) -> tuple[Page, int]:
    """A wall that saw `count` trusted posts, and what `then` did, then lost its server."""
    async with run_server(config) as server:
        for n in range(1, count + 1):
            await server.wall.pipeline.ingest(make_post(n, handle=TRUSTED))
        page = await open_screen(context, server.base, WALL)
        if then is not None:
            await then(server)
        last = await server.wall.store.last_seq(PUBLIC)
        await wait_until(page, "(seq) => document.body.dataset.seq === String(seq)", last)
    return page, server.port


@contextlib.asynccontextmanager
async def black_hole(port: int) -> AsyncIterator[None]:
    """A network cut: connections to the port are accepted and never answered."""
    held: list[asyncio.StreamWriter] = []

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    listener = await asyncio.start_server(swallow, "127.0.0.1", port)
    try:
        yield
    finally:
        listener.close()
        for writer in held:
            writer.close()
        await asyncio.wait_for(listener.wait_closed(), 5)


async def test_a_post_hidden_during_a_network_cut_leaves_the_restored_wall(
    browser: Browser, store_url: str
) -> None:
    """Reloaded while the network swallows every request, the wall opens from its copies after
    the short timeout, with its pin, its pause and the post it held; a post hidden meanwhile
    leaves, and the held one comes, once the server answers again."""
    config = settings(store_url)
    context = await new_screen_context(browser, WALL)

    async def pin_pause_and_hold(server: RunningServer) -> None:
        store = server.wall.store
        assert await store.pin("x:1", "ana")
        assert await store.set_paused(True, "ana")
        await server.wall.pipeline.ingest(make_post(4, handle=TRUSTED))

    try:
        page, port = await wall_seen_then_stopped(context, config, 3, pin_pause_and_hold)
        async with black_hole(port):
            await page.reload(timeout=15_000)
            assert not page.url.startswith("chrome-error://"), page.url
            await wait_until(page, "() => document.querySelectorAll('#posts .post').length === 2")
            assert sorted(await ids(page, WALL)) == ["x:2", "x:3"]
            assert await page.eval_on_selector_all(
                "#featured .post", "n => n.map((c) => c.dataset.id)") == ["x:1"]
            assert await page.text_content("#title") == TITLE
            assert await page.evaluate("document.body.dataset.paused") == "true"
            # Meanwhile a moderator hides a post the wall shows and ends the pause.
            store = create_store(config.store_url)
            await store.open()
            try:
                await store.decide("x:2", Action.HIDE, "ana")
                assert await store.set_paused(False, "ana")
                last = await store.last_seq(PUBLIC)
            finally:
                await store.close()
        async with run_server(config, port=port):
            await wait_until(page, "(seq) => document.body.dataset.seq === String(seq)", last, 20)
            await page.wait_for_selector('#posts [data-id="x:4"]', timeout=10_000)
            assert sorted(await ids(page, WALL)) == ["x:3", "x:4"]
            assert await page.evaluate("document.body.dataset.paused") == "false"
    finally:
        await context.close()


async def test_a_saved_seq_the_server_does_not_know_gives_way_to_its_snapshot(
    browser: Browser, tmp_path: Path
) -> None:
    """A wall restored at seq 5 meets a server whose log stops at 2 (a new store): the reset
    snapshot replaces the restored posts."""
    first = settings(f"sqlite:///{tmp_path / 'first.sqlite3'}")
    fresh = settings(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    context = await new_screen_context(browser, WALL)
    try:
        page, port = await wall_seen_then_stopped(context, first, 5)
        await reload_offline(page, WALL, 5)
        frames = record_frames(page)
        async with run_server(fresh, port=port) as server:
            for n in (21, 22):
                await server.wall.store.submit(make_post(n), APPROVED)
            await wait_until(page, """() => Array.from(document.querySelectorAll('#posts .post'))
                .map((c) => c.dataset.id).sort().join() === 'x:21,x:22'""", timeout=20)
        assert [(m["type"], m["seq"], m["reset"]) for url, m in frames
                if "?since=5&epoch=" in url] == [("snapshot", 2, True)]
    finally:
        await context.close()


async def settled_content(page: Page) -> str:
    """The page's HTML, asked again while the browser's error page retries on its own."""
    async with asyncio.timeout(10):
        while True:
            with contextlib.suppress(Error):
                return await page.content()
            await asyncio.sleep(0.05)


async def test_the_moderator_console_is_never_served_from_a_copy(browser: Browser,
                                                                store_url: str) -> None:
    """With the public pages' copies in place, /moderate reloaded while the server is down
    shows the browser's own error, never the queue it showed before."""
    port = free_port()
    config = settings(store_url, public_url=f"http://127.0.0.1:{port}")
    context = await new_screen_context(browser, WALL)
    try:
        async with run_server(config, port=port) as server:
            await server.wall.pipeline.ingest(make_post(1, text="En attente de décision",
                                                        handle="bruno"))
            wall = await open_screen(context, server.base, WALL)
            console = await context.new_page()
            await sign_in(console, server.base)
            await console.locator('#queue .card[data-id="x:1"]').wait_for(timeout=10_000)
            kept = await wall.evaluate("""async () => {
                const urls = [];
                for (const name of await caches.keys()) {
                  for (const request of await (await caches.open(name)).keys()) {
                    urls.push(new URL(request.url).pathname);
                  }
                }
                return urls;
            }""")
        assert "/wall" in kept and "/api/config" in kept
        assert not [url for url in kept if "moderate" in url or url.startswith(("/api/posts",
                                                                                "/ws"))], kept
        # No copy answers: the navigation fails as it would without a service worker.
        with pytest.raises(Error, match="ERR_CONNECTION_REFUSED"):
            await console.reload(timeout=15_000)
        error_page = await settled_content(console)
        assert "ERR_CONNECTION_REFUSED" in error_page
        assert "En attente de décision" not in error_page and 'id="queue"' not in error_page
    finally:
        await context.close()


async def test_a_damaged_saved_copy_is_ignored(browser: Browser, store_url: str) -> None:
    """A saved copy that is not valid JSON, or has no whole seq, is ignored: the pages start
    from the server's snapshot as if nothing was saved."""
    async with run_server(settings(store_url)) as server:
        await server.wall.pipeline.ingest(make_post(1, handle=TRUSTED))
        context = await new_screen_context(browser, WALL)
        await context.add_init_script("""
            if (!sessionStorage.getItem('damaged')) {
              sessionStorage.setItem('damaged', '1');
              localStorage.setItem('hashwall.feed.wall', '{"format": 1, "seq": ');
              localStorage.setItem('hashwall.feed.phone', JSON.stringify({ format: 1,
                seq: '7', posts: [{ id: 'x:99', text: 'never shown' }] }));
            }""")
        try:
            for screen in (WALL, PHONE):
                page = await context.new_page()
                frames = record_frames(page)
                await page.goto(server.base + screen.path)
                await wait_until(page, "() => document.body.dataset.seq === '1'")
                assert await ids(page, screen) == ["x:1"]
                # One socket, opened without ?since=: it began from the server's snapshot.
                assert [(url, m["type"]) for url, m in frames] == [
                    (f"{server.ws_base}/ws", "snapshot")]
                assert await injected(page) == []
        finally:
            await context.close()


async def test_a_deploy_replaces_the_copies(browser: Browser, store_url: str, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """/sw.js names its cache after a hash of the files it keeps; a deploy that changes one
    file installs a new cache and the old one is deleted."""
    config = settings(store_url)
    context = await new_screen_context(browser, WALL)
    try:
        async with run_server(config) as server:
            port = server.port
            async with httpx.AsyncClient(base_url=server.base, timeout=10) as http:
                response = await http.get("/sw.js")
            assert response.headers["content-type"].startswith("application/javascript")
            assert response.headers["cache-control"] == "no-cache"
            assert "worker-src 'self'" in response.headers["content-security-policy"]
            match = BUILD.search(response.text)
            assert match is not None
            build = json.loads(match.group(1))
            assert {"/", "/wall", "/static/js/wall.js", "/static/js/phone.js",
                    "/static/js/offline.js", "/static/css/wall.css", "/api/config",
                    "/api/qr.svg"} <= set(build["precache"])
            assert not [url for url in build["precache"] if "moderate" in url]
            page = await open_screen(context, server.base, WALL)
            assert await page.evaluate("caches.keys()") == [f"hashwall-{build['version']}"]
        deployed = tmp_path / "wall_ui"
        shutil.copytree(service_worker.STATIC_DIR, deployed)
        with (deployed / "css" / "wall.css").open("a", encoding="utf-8") as css:
            css.write("\n/* a new release */\n")
        monkeypatch.setattr(service_worker, "STATIC_DIR", deployed)
        version = service_worker.build()["version"]
        assert version != build["version"]
        async with run_server(config, port=port):
            await page.reload(timeout=15_000)
            await wait_until(page, "(name) => caches.keys().then((k) => k.join() === name)",
                             f"hashwall-{version}")
    finally:
        await context.close()
