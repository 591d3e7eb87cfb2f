"""Mastodon custom emoji show as their images on the pages, or as `:shortcode:` text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.async_api import Browser

from moderation.post import Status
from moderation.queue import Verdict
from server.sources.mastodon.normalise import normalise_status
from tests.browser import new_context, wait_until
from tests.utils import make_settings, run_server

pytestmark = pytest.mark.asyncio(loop_scope="module")

FIXTURES = Path(__file__).parent / "fixtures" / "mastodon"
RECORDED = FIXTURES / "mastodonpy_real_instances_statuses.jsonl"


def status_with_emoji() -> dict:
    """The first recorded public status whose text holds a custom emoji."""
    for line in RECORDED.read_text(encoding="utf-8").splitlines():
        status = json.loads(line)
        if status.get("visibility") == "public" and not status.get("reblog") and any(
                f":{e['shortcode']}:" in status["content"] for e in status.get("emojis", [])):
            return status
    raise AssertionError("no recorded status with a custom emoji in its text")


async def test_custom_emoji_is_an_image_and_a_broken_one_its_shortcode(
    browser: Browser, store_url: str,
) -> None:
    """An emoji entity renders as an <img> with its shortcode as alt text; when its image
    fails to load, the shortcode shows as text instead of an empty box."""
    status = status_with_emoji()
    emoji = next(e for e in status["emojis"] if f":{e['shortcode']}:" in status["content"])
    # The tests reach no network: the fake image host of tests/browser.py stands in for
    # the server's media host, and a "broken" address answers 404.
    status["emojis"] = [{**e, "url": f"https://pbs.twimg.com/emoji/{e['shortcode']}.png",
                         "static_url": f"https://pbs.twimg.com/emoji/{e['shortcode']}.png"}
                        for e in status["emojis"]]
    broken = {**status, "uri": status["uri"] + "-broken", "id": "broken",
              "emojis": [{**e, "url": "https://pbs.twimg.com/broken.png",
                          "static_url": "https://pbs.twimg.com/broken.png"}
                         for e in status["emojis"]]}
    posts = [normalise_status(s, "mastodon.social") for s in (status, broken)]
    assert all(p is not None for p in posts)
    settings = make_settings(store_url=store_url, mastodon_instances="https://mastodon.social")
    async with run_server(settings, ingest=False) as server:
        for post in posts:
            assert post is not None
            await server.wall.store.submit(post, Verdict(Status.APPROVED, "test"))
        context = await new_context(browser, 1920, 1080)
        page = await context.new_page()
        await page.goto(f"{server.base}/wall")
        code = f":{emoji['shortcode']}:"
        await wait_until(page, f"""() => [...document.querySelectorAll('img.emoji')]
            .some((i) => i.alt === {json.dumps(code)} && i.complete && i.naturalWidth > 0)""")
        await wait_until(page, f"""() => [...document.querySelectorAll('span.entity.emoji')]
            .some((s) => s.textContent === {json.dumps(code)})""")
        await context.close()
