"""Moderator sessions end at logout and when the password changes, over real servers."""

from __future__ import annotations

import httpx

from tests.utils import PASSWORD, TIMEOUT, make_settings, moderator, run_server, session_cookie


async def test_a_cookie_kept_from_before_logout_no_longer_signs_in(store_url: str) -> None:
    """A copy of the session cookie taken before logout is refused afterwards, as are the
    moderator's other sessions."""
    async with run_server(make_settings(store_url=store_url)) as running:
        async with moderator(running) as other:
            async with moderator(running) as http:
                stolen = session_cookie(http)
                csrf = http.headers["X-CSRF-Token"]
                assert (await http.post("/api/logout")).status_code == 200
            async with httpx.AsyncClient(base_url=running.base, timeout=TIMEOUT) as replay:
                headers = {"Cookie": stolen, "X-CSRF-Token": csrf}
                assert (await replay.get("/api/me", headers=headers)).json()["moderator"] is None
                assert (await replay.post("/api/pause", headers=headers)).status_code == 401
            assert (await other.get("/api/me")).json()["moderator"] is None
        async with moderator(running) as again:
            assert (await again.get("/api/me")).json()["moderator"] == "ana"


async def test_changing_the_password_ends_every_session(store_url: str) -> None:
    """After a restart with another moderator password, cookies of the old one are refused."""
    async with run_server(make_settings(store_url=store_url)) as running, \
            moderator(running) as http:
        cookie = session_cookie(http)
        assert (await http.get("/api/me")).json()["moderator"] == "ana"
    same = make_settings(store_url=store_url)
    async with run_server(same) as running, httpx.AsyncClient(timeout=TIMEOUT) as client:
        me = await client.get(f"{running.base}/api/me", headers={"Cookie": cookie})
        assert me.json()["moderator"] == "ana"
    changed = make_settings(store_url=store_url, moderator_password=PASSWORD + " 2")
    async with run_server(changed) as running, httpx.AsyncClient(timeout=TIMEOUT) as client:
        me = await client.get(f"{running.base}/api/me", headers={"Cookie": cookie})
        assert me.json()["moderator"] is None
