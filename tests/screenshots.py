"""Screenshots of every page at the sizes people use, for the README: `make screenshots`.

Runs the demo stream (its bundled photos) plus a post of each network through a real server
on a free port, in headless Chromium, and writes JPEGs into docs/screenshots/. Nothing
leaves the machine: every request that is not to the local server is refused, so avatars
show their initials as they would offline.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from playwright.async_api import Browser, BrowserContext, Page, Route, async_playwright

from server.cli import demo_settings
from tests.browser import launch, wait_until
from tests.utils import PASSWORD, free_port, make_post, run_server
from tests.wall_posts import network_posts

OUT = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
WALL_SIZES = [(1920, 1080), (1024, 768)]
TABLET_SIZES = [(1024, 768), (1366, 1024)]
PHONE = (390, 844)


async def _local_only(route: Route) -> None:
    if route.request.url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:")):
        await route.continue_()
    else:
        await route.abort()


async def _context(browser: Browser, width: int, height: int, **options: object
                   ) -> BrowserContext:
    context = await browser.new_context(viewport={"width": width, "height": height},
                                        reduced_motion="reduce", **options)  # type: ignore[arg-type]
    await context.route("**/*", _local_only)
    return context


async def _shot(page: Page, name: str) -> None:
    await wait_until(page, """() => document.fonts.status === "loaded"
        && Array.from(document.images).every((i) => {
          const box = i.getBoundingClientRect();  // lazy images below the fold never load
          return i.complete || !box.width || box.top > innerHeight;
        })
        && document.getAnimations().every((a) => a.playState !== "running")""", timeout=20)
    await page.screenshot(path=str(OUT / f"{name}.jpg"), type="jpeg", quality=72)
    print(f"docs/screenshots/{name}.jpg")


async def main() -> None:
    """Take every screenshot."""
    OUT.mkdir(parents=True, exist_ok=True)
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        settings = demo_settings(store_url=f"sqlite:///{folder}/screens.sqlite3", replay_speed=0,
                                 public_url=f"http://127.0.0.1:{port}",
                                 moderator_password=PASSWORD, secret_key="screenshots")
        async with run_server(settings, port=port) as server:
            await asyncio.wait_for(server.wall.sources[0].done.wait(), 30)  # type: ignore[attr-defined]
            for post in network_posts()[1:4]:  # queued for the console
                await server.wall.pipeline.ingest(post)
            for n in range(1, 9):
                await server.wall.pipeline.ingest(make_post(
                    n, text=f"Question {n} pour la table ronde : comment financer la "
                            "transition des PME ? #uemedef14", handle=f"invite{n}"))
            async with async_playwright() as playwright:
                browser = await launch(playwright)
                for layout in ("grid", "mosaic"):
                    for width, height in WALL_SIZES:
                        context = await _context(browser, width, height)
                        page = await context.new_page()
                        await page.goto(f"{server.base}/wall")
                        await wait_until(page, "() => document.querySelectorAll("
                                         "'#posts .post').length >= 3", timeout=20)
                        await page.evaluate(f"""() => {{
                            for (const name of ["grid", "spotlight", "mosaic"]) {{
                              document.body.classList.toggle(`layout-${{name}}`,
                                                             name === "{layout}");
                            }}
                            document.body.dataset.layout = "{layout}";
                            window.hashwall.stage.trim();
                            window.hashwall.stage.onChange();
                            window.hashwall.stage.refit();
                        }}""")
                        await _shot(page, f"wall-{layout}-{width}x{height}")
                        await context.close()
                context = await _context(browser, *PHONE, is_mobile=True, has_touch=True)
                page = await context.new_page()
                await page.goto(f"{server.base}/")
                await wait_until(page, "() => document.querySelectorAll('.post').length >= 5",
                                 timeout=20)
                await _shot(page, f"phone-{PHONE[0]}x{PHONE[1]}")
                await context.close()
                for width, height in TABLET_SIZES:
                    context = await _context(browser, width, height, has_touch=True)
                    page = await context.new_page()
                    await page.goto(f"{server.base}/moderate")
                    await page.locator("#login").wait_for()
                    await _shot(page, f"login-{width}x{height}")
                    await page.fill("input[name=name]", "ana")
                    await page.fill("input[name=password]", PASSWORD)
                    await page.click("#sign-in")
                    await page.locator("#queue .card").first.wait_for()
                    await _shot(page, f"console-{width}x{height}")
                    await context.close()
                await browser.close()


if __name__ == "__main__":
    asyncio.run(main())
