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
from starlette.routing import Route
from websockets.exceptions import InvalidStatus

from moderation.accounts import AccountsError, hash_password, parse_accounts
from moderation.post import Status
from server.settings import SettingsError
from server.throttle import LoginThrottle
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


async def test_five_failures_from_one_address_block_it(store_url: str) -> None:
    """After 5 failed sign-ins from one address, even the right password is refused there."""
    async with served(store_url) as running:
        async with from_address(running, "127.0.0.2") as client:
            for n in range(5):
                assert (await login(client, f"name{n}", "wrong")).status_code == 401
            blocked = await login(client, "ana", PASSWORD)
            assert blocked.status_code == 429
            assert "too many failed sign-ins" in blocked.json()["error"]
            assert 0 < int(blocked.headers["retry-after"]) <= 15 * 60
            assert "hashwall_session" not in blocked.cookies
        async with from_address(running, "127.0.0.3") as other:
            assert (await login(other, "ana", PASSWORD)).status_code == 200


async def test_failures_for_one_account_from_elsewhere_never_lock_it_out(store_url: str) -> None:
    """Wrong passwords for a name from 5 addresses do not stop its right password from
    another address: a lockout an attacker can trigger would be a denial of service."""
    async with served(store_url) as running:
        for n in range(5):
            async with from_address(running, f"127.0.0.{10 + n}") as client:
                for _ in range(6):
                    assert (await login(client, "Ana", "guess")).status_code in (401, 429)
        async with from_address(running, "127.0.0.20") as client:
            assert (await login(client, "ana", PASSWORD)).status_code == 200
            assert (await login(client, "ben", PASSWORD)).status_code == 200


async def test_refusal_tells_the_wait_in_seconds(store_url: str) -> None:
    """A throttled sign-in answers the wait as `retry_after`, as Retry-After and in its
    words, alike."""
    async with served(store_url) as running, from_address(running, "127.0.0.2") as client:
        for _ in range(5):
            assert (await login(client, "ana", "wrong")).status_code == 401
        refused = await login(client, "ana", PASSWORD)
        assert refused.status_code == 429
        wait = refused.json()["retry_after"]
        assert wait == int(refused.headers["retry-after"]) > 0
        assert refused.json()["error"] == f"too many failed sign-ins; try again in {wait} s"


async def test_guesses_sent_at_once_get_no_more_tries(store_url: str, tmp_path: Path) -> None:
    """12 wrong sign-ins sent together (argon2 checks them side by side): 5 are checked and
    refused, the other 7 are throttled; a right password does not free an address."""
    accounts = tmp_path / "moderators.txt"
    accounts.write_text(f"ana:{hash_password('ana secret')}\n", encoding="utf-8")
    async with served(store_url, accounts_file=accounts) as running:
        async with from_address(running, "127.0.0.2") as client:
            burst = await asyncio.gather(*(login(client, "ana", f"guess {n}")
                                           for n in range(12)))
            assert sorted(r.status_code for r in burst) == [401] * 5 + [429] * 7
            assert (await login(client, "ana", "ana secret")).status_code == 429
        async with from_address(running, "127.0.0.3") as other:
            # Another address that has not failed signs in with the right password.
            assert (await login(other, "ana", "ana secret")).status_code == 200


async def test_a_successful_sign_in_does_not_count_as_a_failure(store_url: str) -> None:
    """Signing in 10 times from one address never blocks it."""
    async with served(store_url) as running:
        async with from_address(running, "127.0.0.4") as client:
            for _ in range(10):
                assert (await login(client, "ana", PASSWORD)).status_code == 200
            for n in range(4):
                assert (await login(client, f"name{n}", "wrong")).status_code == 401
            assert (await login(client, "ana", PASSWORD)).status_code == 200


async def test_throttle_window_slides_and_success_clears_the_account() -> None:
    """Failures older than the window stop counting; forgetting an account clears it."""
    now = [1000.0]
    throttle = LoginThrottle(limit=5, window=900, clock=lambda: now[0])
    for _ in range(5):
        await throttle.failed("ip:a", "account:ana")
        now[0] += 10
    assert await throttle.retry_after("ip:a") == pytest.approx(1000 + 900 - 1050)
    now[0] = 1000 + 900.5
    assert await throttle.retry_after("ip:a") == 0  # the oldest failure left the window
    await throttle.failed("ip:a")
    assert await throttle.retry_after("ip:a") > 0
    await throttle.forget("account:ana")
    assert await throttle.retry_after("account:ana") == 0


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
