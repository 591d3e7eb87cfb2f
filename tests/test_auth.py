"""Access: accounts, login throttling, the session cookie, CSRF tokens and the Origin check."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser
from starlette.routing import Route
from websockets.exceptions import InvalidStatus

from moderation.accounts import AccountsError, hash_password, parse_accounts
from moderation.post import Status
from moderation.store import create_store
from server.settings import SettingsError
from server.throttle import Throttle, delay, throttle_for
from tests.browser import new_context, wait_until
from tests.utils import (
    PASSWORD,
    TIMEOUT,
    RunningServer,
    free_port,
    make_post,
    make_settings,
    moderator,
    recv,
    run_server,
    session_cookie,
    ws_client,
)


@contextlib.asynccontextmanager
async def served(store_url: str, **overrides: Any) -> AsyncIterator[RunningServer]:
    """A real server whose public URL is its own address, as in production."""
    port = free_port()
    settings = make_settings(store_url=store_url, public_url=f"http://127.0.0.1:{port}",
                             **overrides)
    async with run_server(settings, port=port) as running:
        yield running


def from_address(running: RunningServer, address: str) -> httpx.AsyncClient:
    """An HTTP client whose connections come from another loopback address."""
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(base_url=running.base, transport=transport, timeout=TIMEOUT)


async def login(client: httpx.AsyncClient, name: str, password: str) -> httpx.Response:
    """POST /api/login with a name and a password."""
    return await client.post("/api/login", json={"name": name, "password": password})


def frozen_clock(*servers: RunningServer) -> list[float]:
    """Give each server's sign-in throttle a clock that reads `now[0]` and moves only when the
    test moves it: no wait runs out while a test is slow."""
    now = [1_700_000_000.0]
    for running in servers:
        running.wall.login_throttle = throttle_for(running.wall.store, clock=lambda: now[0])
    return now


async def test_failures_from_one_address_make_it_wait_longer_each_time(store_url: str) -> None:
    """3 wrong passwords from one address cost nothing; after the 4th it waits 5 s, then 10 s,
    20 s: even the right password is refused there meanwhile, never from another address."""
    async with served(store_url) as running:
        now = frozen_clock(running)
        async with from_address(running, "127.0.0.2") as client, \
                from_address(running, "127.0.0.3") as other:
            for n in range(3):
                assert (await login(client, f"name{n}", "wrong")).status_code == 401
            waits = []
            for _ in range(3):
                assert (await login(client, "ana", "wrong")).status_code == 401
                refused = await login(client, "ana", PASSWORD)
                assert refused.status_code == 429
                assert "hashwall_session" not in refused.cookies
                wait = int(refused.headers["retry-after"])
                waits.append(wait)
                assert (await login(other, "ana", PASSWORD)).status_code == 200
                now[0] += wait
            assert waits == [5, 10, 20]
            assert (await login(client, "ana", "wrong")).status_code == 401
            now[0] += 30
            # The 7th failure waits 40 s from when it happened: 10 s are left.
            assert (await login(client, "ana", PASSWORD)).headers["retry-after"] == "10"
            now[0] += 10
            assert (await login(client, "ana", PASSWORD)).status_code == 200


async def test_failures_for_one_account_from_elsewhere_never_lock_it_out(store_url: str) -> None:
    """Wrong passwords for a name from 5 addresses do not stop its right password from
    another address: a lockout an attacker can trigger would be a denial of service."""
    async with served(store_url) as running:
        frozen_clock(running)
        for n in range(5):
            async with from_address(running, f"127.0.0.{10 + n}") as client:
                statuses = [(await login(client, "Ana", "guess")).status_code for _ in range(6)]
                assert statuses == [401] * 4 + [429] * 2
        async with from_address(running, "127.0.0.20") as client:
            assert (await login(client, "ana", PASSWORD)).status_code == 200
            assert (await login(client, "ben", PASSWORD)).status_code == 200


async def test_refusal_tells_the_wait_in_seconds(store_url: str) -> None:
    """A throttled sign-in answers the wait as `retry_after`, as Retry-After and in its
    words, alike."""
    async with served(store_url) as running, from_address(running, "127.0.0.2") as client:
        now = frozen_clock(running)
        for _ in range(4):
            assert (await login(client, "ana", "wrong")).status_code == 401
        now[0] += 1.5
        refused = await login(client, "ana", PASSWORD)
        assert refused.status_code == 429
        # 3.5 s are left, told as 4: a client that waits as told is not refused again.
        assert refused.json()["retry_after"] == int(refused.headers["retry-after"]) == 4
        assert refused.json()["error"] == "too many failed sign-ins; try again in 4 s"
        now[0] += 4
        assert (await login(client, "ana", PASSWORD)).status_code == 200


async def test_guesses_sent_at_once_get_no_more_tries(store_url: str, tmp_path: Path) -> None:
    """12 wrong sign-ins sent together (argon2 checks them side by side): 4 are checked and
    refused, the other 8 are throttled; a right password does not free an address."""
    accounts = tmp_path / "moderators.txt"
    accounts.write_text(f"ana:{hash_password('ana secret')}\n", encoding="utf-8")
    async with served(store_url, accounts_file=accounts) as running:
        frozen_clock(running)
        async with from_address(running, "127.0.0.2") as client:
            burst = await asyncio.gather(*(login(client, "ana", f"guess {n}")
                                           for n in range(12)))
            assert sorted(r.status_code for r in burst) == [401] * 4 + [429] * 8
            assert (await login(client, "ana", "ana secret")).status_code == 429
        async with from_address(running, "127.0.0.3") as other:
            # Another address that has not failed signs in with the right password.
            assert (await login(other, "ana", "ana secret")).status_code == 200


async def test_a_successful_sign_in_does_not_count_as_a_failure(store_url: str) -> None:
    """Signing in 10 times from one address never makes it wait: 3 failures after them are
    still free."""
    async with served(store_url) as running:
        frozen_clock(running)
        async with from_address(running, "127.0.0.4") as client:
            for _ in range(10):
                assert (await login(client, "ana", PASSWORD)).status_code == 200
            for n in range(3):
                assert (await login(client, f"name{n}", "wrong")).status_code == 401
            assert (await login(client, "ana", PASSWORD)).status_code == 200


@pytest.mark.asyncio(loop_scope="module")
async def test_the_login_page_counts_the_wait_down(browser: Browser, store_url: str) -> None:
    """The login page shows the server's wait in seconds and counts it down, the button
    disabled; once it is over the right password signs in, after a wait twice as long."""
    async with served(store_url) as running:
        now = frozen_clock(running)
        context = await new_context(browser, 1024, 768)
        try:
            page = await context.new_page()
            await page.clock.install(time=now[0])
            await page.goto(f"{running.base}/moderate")
            # The page's own clock stands still too, but for run_for.
            await page.clock.pause_at(now[0] + 1)
            button = page.locator("#sign-in")

            async def sign_in(password: str) -> str:
                await page.evaluate("document.getElementById('login-error').textContent = ''")
                await page.fill("input[name=name]", "ana")
                await page.fill("input[name=password]", password)
                async with page.expect_response("**/api/login"):
                    await button.click()
                said: str = await wait_until(
                    page, "() => document.getElementById('login-error').textContent")
                return said

            for _ in range(4):
                assert await sign_in("wrong") == "wrong password"
            told = "Too many failed sign-ins from here: try again in {} s."
            assert await sign_in(PASSWORD) == told.format(5)
            assert await button.is_disabled()
            await page.clock.run_for(4000)
            assert await page.locator("#login-error").inner_text() == told.format(1)
            assert await button.is_disabled()
            await page.clock.run_for(1000)
            assert await page.locator("#login-error").inner_text() == "You can try again now."
            assert await button.is_enabled()
            now[0] += 5
            assert await sign_in("wrong") == "wrong password"
            assert await sign_in(PASSWORD) == told.format(10)
            await page.clock.run_for(10_000)
            now[0] += 10
            await page.fill("input[name=password]", PASSWORD)
            await button.click()
            await page.locator("#console").wait_for(state="visible", timeout=10_000)
        finally:
            await context.close()


@pytest.mark.asyncio(loop_scope="module")
async def test_the_name_field_is_empty_until_this_device_signed_in(
        browser: Browser, store_url: str) -> None:
    """No name is filled in for everyone ("moderator" made every moderator one name in the
    log); once a moderator signed in on a device, the field offers that name there."""
    async with served(store_url) as running:
        context = await new_context(browser, 1024, 768)
        try:
            page = await context.new_page()
            await page.goto(f"{running.base}/moderate")
            name = page.locator("input[name=name]")
            await name.wait_for(state="visible")
            assert await name.input_value() == ""
            assert await name.get_attribute("placeholder")
            await name.fill("Ana")
            await page.fill("input[name=password]", PASSWORD)
            await page.locator("#sign-in").click()
            await page.locator("#console").wait_for(state="visible", timeout=10_000)
            await page.locator("#logout").click()
            await page.wait_for_load_state()
            await name.wait_for(state="visible")
            assert await name.input_value() == "Ana"
        finally:
            await context.close()


@pytest.fixture
async def clocked(backend_url: str) -> AsyncIterator[tuple[Throttle, list[float]]]:
    """The throttle of a store of each backend (in memory for SQLite, in Redis), and the
    list whose first item its clock reads."""
    now = [1_700_000_000.0]
    store = create_store(backend_url)
    await store.open()
    try:
        yield throttle_for(store, clock=lambda: now[0]), now
    finally:
        await store.close()


# The wait after the 1st, 2nd, … failure: 3 free, then doubling from 5 s up to 15 minutes.
DELAYS = [0, 0, 0, 5, 10, 20, 40, 80, 160, 320, 640, 900, 900, 900]


async def test_delays_grow_from_the_fourth_failure_up_to_fifteen_minutes(
        clocked: tuple[Throttle, list[float]]) -> None:
    """Each failure past the 3rd doubles the wait, counted from that failure, up to the cap;
    the wait of several keys is the longest."""
    throttle, now = clocked
    assert [delay(k) for k in range(1, len(DELAYS) + 1)] == DELAYS
    waits = []
    for _ in DELAYS:
        await throttle.failed("ip:a")
        waits.append(await throttle.retry_after("ip:a"))
        now[0] += 1  # failures made while waiting count as well
    assert waits == DELAYS
    assert await throttle.retry_after("ip:a") == 900 - 1
    assert await throttle.retry_after("ip:b") == 0
    for _ in range(5):
        await throttle.failed("ip:b")
    assert await throttle.retry_after("ip:b") == 10
    assert await throttle.retry_after("ip:b", "ip:a", "ip:c") == 900 - 1
    now[0] += 899
    assert await throttle.retry_after("ip:a", "ip:b") == 0


async def test_failures_are_forgotten_an_hour_after(
        clocked: tuple[Throttle, list[float]]) -> None:
    """A failure counts for an hour, then no more; waiting out a delay forgets nothing."""
    throttle, now = clocked
    start = now[0]
    for n in range(4):  # at +0, +100, +200, +300
        now[0] = start + 100 * n
        await throttle.failed("ip:a")
    assert await throttle.retry_after("ip:a") == 5
    now[0] = start + 400
    assert await throttle.retry_after("ip:a") == 0
    await throttle.failed("ip:a")
    assert await throttle.retry_after("ip:a") == 10  # the 5th within the hour
    now[0] = start + 3600 + 50  # the one at +0 is forgotten; 4 are left
    await throttle.failed("ip:a")
    assert await throttle.retry_after("ip:a") == 10  # the 5th again, not the 6th
    now[0] = start + 3600 + 400  # the one at +3650 alone is left (+400 is an hour old)
    assert await throttle.retry_after("ip:a") == 0
    for _ in range(2):
        await throttle.failed("ip:a")
    assert await throttle.retry_after("ip:a") == 0  # 3 failures: free again
    await throttle.failed("ip:a")
    assert await throttle.retry_after("ip:a") == 5


async def test_attempts_count_until_taken_back_and_forget_clears_a_key(
        clocked: tuple[Throttle, list[float]]) -> None:
    """An attempt counts as a failure until it is cancelled; a refused attempt is not
    counted; forgetting the pair clears it, not the address."""
    throttle, now = clocked
    keys = ("ip:a", "ip:a|account:ana")
    marks = []
    for _ in range(4):
        wait, mark = await throttle.attempt(*keys)
        assert wait == 0 and mark
        marks.append(mark)
    assert await throttle.attempt(*keys) == (5, "")
    assert await throttle.attempt("ip:a") == (5, "")
    await throttle.cancel(marks[-1], *keys)  # the 4th signed in: 3 failures, free
    assert await throttle.retry_after(*keys) == 0
    assert (await throttle.attempt(*keys))[0] == 0  # the 4th failure again
    now[0] += 5
    assert (await throttle.attempt(*keys))[0] == 0
    # The 5th failure: the refused attempts were not counted.
    assert await throttle.retry_after(*keys) == 10
    await throttle.forget("ip:a|account:ana")
    assert await throttle.retry_after("ip:a|account:ana") == 0
    assert await throttle.retry_after("ip:a") == 10


async def test_attempts_at_once_get_the_free_tries_and_one_more(
        clocked: tuple[Throttle, list[float]]) -> None:
    """12 attempts at the same moment: 4 are counted and let through, 8 told to wait 5 s."""
    throttle, _ = clocked
    results = await asyncio.gather(*(throttle.attempt("ip:a", "ip:a|account:ana")
                                     for _ in range(12)))
    assert sorted(wait for wait, _ in results) == [0] * 4 + [5] * 8
    assert await throttle.retry_after("ip:a") == 5


async def test_a_key_keeps_enough_failures_for_the_cap(
        clocked: tuple[Throttle, list[float]]) -> None:
    """Past the failures that reach the cap a key keeps no more, and still waits the cap,
    also after a sign-in took its attempt back."""
    throttle, now = clocked
    for _ in range(40):
        await throttle.failed("ip:a")
        now[0] += 1
    assert await throttle.retry_after("ip:a") == 900 - 1
    now[0] += 899
    wait, mark = await throttle.attempt("ip:a")
    assert wait == 0
    await throttle.cancel(mark, "ip:a")
    await throttle.failed("ip:a")
    assert await throttle.retry_after("ip:a") == 900


async def test_session_cookie_is_strict_httponly_and_rotated_at_login(store_url: str) -> None:
    """Each sign-in issues a new HttpOnly SameSite=Strict cookie and a new CSRF token."""
    async with served(store_url) as running:
        async with httpx.AsyncClient(base_url=running.base, timeout=TIMEOUT) as client:
            first = await login(client, "ana", PASSWORD)
            cookie = first.headers["set-cookie"].lower()
            assert "httponly" in cookie and "samesite=strict" in cookie
            assert "secure" not in cookie
            old_cookie, old_csrf = client.cookies["hashwall_session"], first.json()["csrf"]
            second = await login(client, "ana", PASSWORD)
            assert client.cookies["hashwall_session"] != old_cookie
            assert second.json()["csrf"] != old_csrf
            me = (await client.get("/api/me")).json()
            assert me["moderator"] == "ana" and me["csrf"] == second.json()["csrf"]
            stale = await client.post("/api/pause", headers={"X-CSRF-Token": old_csrf})
            assert stale.status_code == 403


async def test_cookie_is_secure_behind_https(store_url: str) -> None:
    """With an https:// public URL the session cookie is marked Secure."""
    settings = make_settings(store_url=store_url, public_url="https://wall.example.org")
    async with run_server(settings) as running:
        async with httpx.AsyncClient(base_url=running.base, timeout=TIMEOUT) as client:
            response = await login(client, "ana", PASSWORD)
    assert "secure" in response.headers["set-cookie"].lower()


def _changing_routes(running: RunningServer) -> list[tuple[str, str]]:
    paths = []
    for route in running.app.routes:
        # Phones' posts are public: they carry a post's own token, not a moderator session.
        if isinstance(route, Route) and route.methods and route.path != "/api/login" and (
                not route.path.startswith("/api/submissions")):
            for method in sorted(route.methods & {"POST", "PUT", "DELETE", "PATCH"}):
                path = re.sub(r"\{post_id(:\w+)?\}", "x:1", route.path)
                path = path.replace("{action}", "approve")
                for command in ("undo", "pause", "mode", "announce", "claim", "release",
                                "unpin", "resume"):
                    if "{command}" in path:
                        paths.append((method, path.replace("{command}", command)))
                if "{command}" not in path:
                    paths.append((method, path))
    return paths


async def test_every_state_changing_request_needs_the_csrf_token(store_url: str) -> None:
    """A signed-in POST or PUT without the session's X-CSRF-Token is refused and changes nothing."""
    async with served(store_url) as running:
        await running.wall.pipeline.ingest(make_post(1))
        routes = _changing_routes(running)
        assert ("POST", "/api/posts/x:1/approve") in routes and ("PUT", "/api/rules") in routes
        assert ("POST", "/api/logout") in routes and ("POST", "/api/pause") in routes
        async with moderator(running) as http:
            token = http.headers.pop("X-CSRF-Token")
            for method, path in routes:
                for headers in ({}, {"X-CSRF-Token": token + "x"}):
                    response = await http.request(method, path, json={}, headers=headers)
                    assert response.status_code == 403, (method, path, response.text)
                    assert "X-CSRF-Token" in response.json()["error"]
            assert (await http.get("/api/me")).json()["moderator"] == "ana"
            item = await running.wall.store.get("x:1")
            assert item is not None and item.status is Status.PENDING
            assert (await running.wall.store.wall_state()).paused is False
            ok = await http.post("/api/posts/x:1/approve", headers={"X-CSRF-Token": token})
            assert ok.status_code == 200


async def test_moderator_socket_refuses_a_foreign_origin(store_url: str) -> None:
    """/ws/moderate refuses another site's Origin before accepting; its own origin is accepted."""
    async with served(store_url) as running:
        async with moderator(running) as http:
            cookie = {"Cookie": session_cookie(http)}
            with pytest.raises(InvalidStatus) as refused:
                async with ws_client(f"{running.ws_base}/ws/moderate", origin="http://evil.example",
                                     additional_headers=cookie):
                    pass
            assert refused.value.response.status_code == 403
            own = running.base
            async with ws_client(f"{running.ws_base}/ws/moderate", origin=own,
                                 additional_headers=cookie) as ws:
                assert (await recv(ws))["type"] == "queue.snapshot"
        async with ws_client(f"{running.ws_base}/ws", origin="http://evil.example") as public:
            assert (await recv(public))["type"] == "snapshot"  # attendees stay anonymous


async def test_loopback_names_of_the_public_url_count_as_one_origin(store_url: str) -> None:
    """With a loopback public URL, a console opened at localhost is its own origin; ports count."""
    async with served(store_url) as running, moderator(running) as http:
        cookie = {"Cookie": session_cookie(http)}
        for alias in (f"http://localhost:{running.port}", f"http://[::1]:{running.port}"):
            async with ws_client(f"{running.ws_base}/ws/moderate", origin=alias,
                                 additional_headers=cookie) as ws:
                assert (await recv(ws))["type"] == "queue.snapshot"
        me = (await http.get("/api/me")).json()
        assert me["origin_ok"] is True
        async with httpx.AsyncClient(base_url=f"http://localhost:{running.port}",
                                     timeout=TIMEOUT) as by_name:
            assert (await by_name.get("/api/me")).json()["origin_ok"] is True
        for foreign in (f"http://localhost:{running.port + 1}",
                        f"https://localhost:{running.port}", "http://localhost.evil.example"):
            with pytest.raises(InvalidStatus) as refused:
                async with ws_client(f"{running.ws_base}/ws/moderate", origin=foreign,
                                     additional_headers=cookie):
                    pass
            assert refused.value.response.status_code == 403, foreign


async def test_accounts_file_gives_each_moderator_a_password(store_url: str,
                                                            tmp_path: Path) -> None:
    """With an accounts file, a name signs in with its own argon2-checked password only."""
    accounts = tmp_path / "moderators.txt"
    accounts.write_text(f"# the team\nAna:{hash_password('ana secret')}\n"
                        f"ben:{hash_password('ben secret')}\n", encoding="utf-8")
    async with served(store_url, accounts_file=accounts) as running:
        async with httpx.AsyncClient(base_url=running.base, timeout=TIMEOUT) as client:
            assert (await login(client, "ana", "ben secret")).status_code == 401
            assert (await login(client, "ana", PASSWORD)).status_code == 401
            unknown = await login(client, "eve", "ana secret")
            assert unknown.status_code == 401 and unknown.json()["error"] == (
                "wrong name or password")
            ok = await login(client, "ana", "ana secret")
            assert ok.status_code == 200 and ok.json()["moderator"] == "Ana"
            assert (await client.get("/api/me")).json()["accounts"] is True


def test_bad_accounts_files_are_refused_with_the_line(tmp_path: Path) -> None:
    """An accounts line without an argon2 hash, a duplicate or an empty file names the problem."""
    with pytest.raises(AccountsError, match="line 2: expected name:"):
        parse_accounts("ana:$argon2id$v=19$x\nben:plaintext\n")
    with pytest.raises(AccountsError, match="appears twice"):
        parse_accounts("ana:$argon2id$a\nANA:$argon2id$b\n")
    with pytest.raises(AccountsError, match="at least one"):
        parse_accounts("# nobody\n")
    missing = tmp_path / "none.txt"
    with pytest.raises(SettingsError, match="HASHWALL_ACCOUNTS_FILE"):
        make_settings(accounts_file=missing)


async def test_attendee_side_is_anonymous_and_read_only(store_url: str) -> None:
    """Without a session, the approved posts are readable and every change is refused."""
    async with served(store_url) as running:
        await running.wall.pipeline.ingest(make_post(1))
        async with httpx.AsyncClient(base_url=running.base, timeout=TIMEOUT) as anonymous:
            assert (await anonymous.get("/api/posts?status=approved")).status_code == 200
            for method, path in _changing_routes(running):
                response = await anonymous.request(method, path, json={})
                assert response.status_code == 401, (method, path)
            assert (await anonymous.get("/api/audit")).status_code == 401
            assert (await anonymous.get("/api/export.json")).status_code == 401
        async with ws_client(f"{running.ws_base}/ws") as ws:
            await recv(ws)
            await ws.send(json.dumps({"type": "decide", "id": "x:1", "action": "approve"}))
        item = await running.wall.store.get("x:1")
        assert item is not None and item.status is Status.PENDING


async def test_console_is_told_when_its_address_is_not_the_public_one(store_url: str) -> None:
    """GET /api/me says origin_ok false when the page is not served under HASHWALL_PUBLIC_URL."""
    settings = make_settings(store_url=store_url, public_url="https://wall.example.org")
    async with run_server(settings) as running, httpx.AsyncClient(
        base_url=running.base, timeout=TIMEOUT
    ) as http:
        me = (await http.get("/api/me")).json()
    assert me["origin_ok"] is False and me["public_url"] == "https://wall.example.org"
