"""Posting to the wall from the phone view, in headless Chromium against a real server."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, Route

from moderation.post import Status
from moderation.queue import Action
from tests.browser import injected, new_context, wait_until
from tests.onsite_images import encoded, jpeg_with_gps
from tests.utils import PASSWORD, RunningServer, free_port, make_settings, run_server

pytestmark = pytest.mark.asyncio(loop_scope="module")

PHONE = {"width": 390, "height": 844}


async def open_phone(browser: Browser, server: RunningServer, locale: str = "fr-FR") -> Page:
    context = await new_context(browser, PHONE["width"], PHONE["height"], is_mobile=True,
                                has_touch=True, locale=locale)
    page = await context.new_page()
    await page.goto(f"{server.base}/")
    await wait_until(page, "() => document.querySelector('.submit-open') !== null")
    return page


async def state_of(page: Page, index: int = 0) -> str:
    state: str = await page.evaluate(
        "(i) => document.querySelectorAll('.submit-sent')[i]?.dataset.state ?? ''", index)
    return state


async def test_a_post_is_sent_followed_live_and_withdrawn(browser: Browser, store_url: str,
                                                          tmp_path: Path) -> None:
    """Send, see it wait, see it shown without reloading; another one is withdrawn."""
    settings = make_settings(store_url=store_url, onsite_posts=True, onsite_max_chars=50)
    async with run_server(settings) as server:
        page = await open_phone(browser, server)
        await page.click(".submit-open")
        assert await page.text_content(".submit-heading") == "Publier sur le mur"
        await page.fill("#submit-name", "Ada <b>L</b>")
        question = "Quelle est la prochaine étape ? <img src=x>"
        await page.fill("#submit-text", question)
        assert await page.text_content("#submit-count") == f"{len(question)} / 50"
        photo = tmp_path / "scene.jpg"
        photo.write_bytes(jpeg_with_gps())
        await page.set_input_files(".submit-file-input >> nth=1", str(photo))
        await page.click(".submit-send")
        await wait_until(page, "() => document.querySelectorAll('.submit-sent').length === 1")
        assert await state_of(page) == "waiting"
        assert await page.text_content(".submit-state") == "En attente de modération"
        pending = await server.wall.store.list_items(Status.PENDING)
        assert len(pending) == 1 and pending[0].post.author.name == "Ada <b>L</b>"
        assert pending[0].post.media and pending[0].post.media[0].type == "photo"
        assert await page.text_content(".submit-sent-text") == (
            "Quelle est la prochaine étape ? <img src=x>")
        assert await injected(page) == []
        await server.wall.store.decide(pending[0].post.id, Action.APPROVE, "ana")
        await wait_until(page, "() => document.querySelector('.submit-sent')"
                               "?.dataset.state === 'shown'")
        assert await page.text_content(".submit-state") == "Affichée sur le mur"
        # The feed shows it too, with the badge of posts from the room and its photo.
        card = f"#posts .post[data-id='{pending[0].post.id}']"
        await wait_until(page, f"() => document.querySelector(\"{card} .network-onsite\")"
                               "?.textContent === 'posté dans la salle'")
        await wait_until(page, f"() => document.querySelector(\"{card} img.media\")"
                               "?.naturalWidth === 640")
        # The name is remembered on the device; the text is not.
        await page.reload()
        await wait_until(page, "() => document.querySelector('.submit-open') !== null")
        await page.click(".submit-open")
        assert await page.input_value("#submit-name") == "Ada <b>L</b>"
        assert await state_of(page) == "shown"
        await page.fill("#submit-text", "Finalement non")
        await page.click(".submit-send")
        await wait_until(page, "() => document.querySelectorAll('.submit-sent').length === 2")
        await page.click(".submit-withdraw")
        await wait_until(page, "() => document.querySelector('.submit-sent')"
                               "?.dataset.state === 'withdrawn'")
        withdrawn = await server.wall.store.list_items(Status.REJECTED)
        assert [i.post.text for i in withdrawn] == ["Finalement non"]
        await page.context.close()


async def test_a_lost_answer_is_retried_with_the_same_key(browser: Browser,
                                                          store_url: str) -> None:
    """The first answer is lost on the way back: the retry is the same post, shown once."""
    settings = make_settings(store_url=store_url, onsite_posts=True, language="en")
    async with run_server(settings) as server:
        page = await open_phone(browser, server, "en-GB")
        keys: list[str] = []

        async def lose_first_answer(route: Route) -> None:
            keys.append(route.request.headers["idempotency-key"])
            response = await route.fetch()  # the server gets it and queues the post
            if len(keys) == 1:
                await route.abort("connectionreset")  # …but the phone never hears back
            else:
                await route.fulfill(response=response)

        await page.route("**/api/submissions", lambda route: (
            lose_first_answer(route) if route.request.method == "POST" else route.continue_()))
        await page.click(".submit-open")
        assert await page.text_content(".submit-open") == "Post to the wall"
        await page.fill("#submit-name", "Grace")
        await page.fill("#submit-text", "Bad wifi here")
        await page.click(".submit-send")
        await wait_until(page, "() => document.querySelectorAll('.submit-sent').length === 1",
                         timeout=15)
        assert len(keys) == 2 and keys[0] == keys[1]
        assert len(await server.wall.store.list_items(Status.PENDING)) == 1
        await page.context.close()


async def test_the_phone_says_when_posting_is_closed(browser: Browser, store_url: str) -> None:
    """Closed by the organiser: the form says so and sends nothing; off: no button at all."""
    settings = make_settings(store_url=store_url, onsite_posts=True)
    async with run_server(settings) as server:
        from server.sources.onsite.records import set_closed

        await set_closed(server.wall.store, True)
        page = await open_phone(browser, server)
        await page.click(".submit-open")
        await wait_until(page, "() => document.body.dataset.submissions === 'closed'")
        assert "fermées" in (await page.text_content(".submit-message") or "")
        assert await page.is_disabled(".submit-send")
        await page.context.close()
    async with run_server(make_settings(store_url=store_url)) as server:
        context = await new_context(browser, PHONE["width"], PHONE["height"], is_mobile=True)
        page = await context.new_page()
        await page.goto(f"{server.base}/")
        await wait_until(page, "() => document.body.dataset.connection === 'open'")
        assert await page.query_selector(".submit-open") is None
        await context.close()



async def test_the_console_shows_the_photo_and_closes_posting(browser: Browser, store_url: str,
                                                               tmp_path: Path) -> None:
    """A moderator sees a waiting post's photo; the console's switch closes phones' posting."""
    port = free_port()
    settings = make_settings(store_url=store_url, onsite_posts=True,
                             public_url=f"http://127.0.0.1:{port}")
    async with run_server(settings, port=port) as server:
        phone = await open_phone(browser, server)
        await phone.click(".submit-open")
        await phone.fill("#submit-name", "Lin")
        await phone.fill("#submit-text", "La scène")
        picture = tmp_path / "stage.png"
        picture.write_bytes(encoded("PNG"))
        await phone.set_input_files(".submit-file-input >> nth=1", str(picture))
        await phone.click(".submit-send")
        await wait_until(phone, "() => document.querySelectorAll('.submit-sent').length === 1")

        context = await new_context(browser, 1280, 900)
        console = await context.new_page()
        await console.goto(f"{server.base}/moderate")
        await console.fill("input[name=name]", "ana")
        await console.fill("input[name=password]", PASSWORD)
        await console.click("button[type=submit]")
        await console.locator("#console").wait_for(state="visible", timeout=10_000)
        await wait_until(console, "() => [...document.querySelectorAll('#queue img.media')]"
                                  ".some((img) => img.complete && img.naturalWidth === 640)")
        await wait_until(console, "() => !document.getElementById('submissions').hidden")
        await console.click("#submissions")
        await wait_until(console, "() => document.getElementById('submissions')"
                                  ".getAttribute('aria-pressed') === 'true'")
        await phone.click(".submit-close")
        await phone.click(".submit-open")
        await wait_until(phone, "() => document.body.dataset.submissions === 'closed'")
        await console.click("#submissions")
        await wait_until(console, "() => document.getElementById('submissions')"
                                  ".getAttribute('aria-pressed') === 'false'")
        await context.close()
        await phone.context.close()
