"""Headless Chromium for the UI tests: the system's chromium, fake post images, screenshots."""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, BrowserContext, Page, Playwright, Route

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "test-output" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run",
]
# What the X image hosts answer in the tests (the real ones are out of reach).
FAKE_IMAGE = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="600" height="400" viewBox="0 0 600 400">'
    '<rect width="600" height="400" fill="#2f6f8f"/><circle cx="300" cy="200" r="120" '
    'fill="#f2c14e"/></svg>'
)
IMAGE_HOSTS = ("https://pbs.twimg.com/", "https://abs.twimg.com/")
# Records anything content could make the page do: dialogs, console output, and CSP refusals
# other than images from hosts the policy does not list.
HOOKS = """
window.__xss = [];
for (const name of ["alert", "confirm", "prompt", "print"]) {
  window[name] = (...args) => { window.__xss.push([name, String(args[0])]); };
}
for (const name of ["log", "info", "warn", "error", "debug", "trace"]) {
  const original = console[name].bind(console);
  console[name] = (...args) => {
    window.__xss.push(["console." + name, args.map(String).join(" ")]);
    original(...args);
  };
}
document.addEventListener("securitypolicyviolation", (event) => {
  if (!/^(img|media)-src/.test(event.effectiveDirective)) {
    window.__xss.push(["csp", event.effectiveDirective, event.blockedURI]);
  }
});
"""


def chromium_path() -> str | None:
    """The system's chromium (HASHWALL_TEST_CHROMIUM overrides); None for Playwright's own."""
    return os.environ.get("HASHWALL_TEST_CHROMIUM") or shutil.which("chromium") or None


async def launch(playwright: Playwright) -> Browser:
    """A headless Chromium that never downloads or phones home."""
    return await playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)


async def _route(route: Route) -> None:
    url = route.request.url
    if url.startswith(IMAGE_HOSTS):
        if "broken" in url:
            await route.fulfill(status=404, body="")
        else:
            await route.fulfill(status=200, content_type="image/svg+xml", body=FAKE_IMAGE)
    elif url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:")):
        await route.continue_()
    else:
        await route.abort()  # the tests talk to nothing but loopback


async def new_context(browser: Browser, width: int, height: int, **options: Any) -> BrowserContext:
    """A fresh context of the given viewport, with fake images and the injection hooks."""
    context = await browser.new_context(viewport={"width": width, "height": height}, **options)
    await context.route("**/*", _route)
    await context.add_init_script(HOOKS)
    return context


async def screenshot(page: Page, name: str) -> bytes:
    """Save a screenshot under test-output/screenshots/ and return its PNG bytes."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


async def distinct_colours(page: Page, png: bytes) -> int:
    """How many colours a 64×64 sample of a screenshot holds (a blank page has one or two)."""
    encoded = base64.b64encode(png).decode()
    count: int = await page.evaluate(
        """async (encoded) => {
          const bytes = Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0));
          const bitmap = await createImageBitmap(new Blob([bytes], { type: "image/png" }));
          const canvas = new OffscreenCanvas(64, 64);
          const context = canvas.getContext("2d");
          context.drawImage(bitmap, 0, 0, 64, 64);
          const data = context.getImageData(0, 0, 64, 64).data;
          const seen = new Set();
          for (let i = 0; i < data.length; i += 4) {
            seen.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
          }
          return seen.size;
        }""",
        encoded,
    )
    return count


async def settled(page: Page) -> None:
    """Wait until the page's fonts and images have loaded and two frames have passed, so
    that the cards are fitted to what they finally hold (an image's load refits its card)."""
    await wait_until(page, """() => document.fonts.status === 'loaded'
        && Array.from(document.images).every((i) => i.complete)""")
    await page.evaluate("""() => new Promise((done) =>
        requestAnimationFrame(() => requestAnimationFrame(() => done())))""")


async def overflowing(page: Page, vertical: bool = False) -> list[dict[str, Any]]:
    """Cards whose text is wider than the card (or, with `vertical`, cut off at its foot
    rather than ending in an ellipsis)."""
    found: list[dict[str, Any]] = await page.evaluate(
        """(vertical) => {
          const out = [];
          for (const card of document.querySelectorAll(".post")) {
            const id = card.dataset.id;
            for (const node of [card, ...card.querySelectorAll(".text")]) {
              if (node.scrollWidth > node.clientWidth + 1) {
                out.push({ id, what: node.className, scrollWidth: node.scrollWidth,
                           clientWidth: node.clientWidth });
              }
              // A text clamped to its whole lines ends in an ellipsis: that is fitting.
              const clamped = getComputedStyle(node).webkitLineClamp !== "none";
              if (vertical && !clamped && node.scrollHeight > node.clientHeight + 1) {
                out.push({ id, what: node.className, scrollHeight: node.scrollHeight,
                           clientHeight: node.clientHeight });
              }
            }
            const box = card.getBoundingClientRect();
            for (const child of card.querySelectorAll("*")) {
              const r = child.getBoundingClientRect();
              if (r.width && (r.right > box.right + 1 || r.left < box.left - 1)) {
                out.push({ id, what: child.className, outside: [r.left, r.right, box.left,
                                                                box.right] });
              }
            }
          }
          return out;
        }""",
        vertical,
    )
    return found


async def injected(page: Page) -> list[Any]:
    """What content managed to do: dialogs, console calls, refused scripts."""
    found: list[Any] = await page.evaluate("window.__xss")
    return found


async def wait_until(page: Page, expression: str, arg: Any = None, timeout: float = 10.0) -> Any:
    """Poll a page function until it returns something truthy (the page's CSP forbids the
    eval that Playwright's own wait_for_function uses)."""
    async with asyncio.timeout(timeout):
        while True:
            value = await page.evaluate(expression, arg)
            if value:
                return value
            await asyncio.sleep(0.02)
