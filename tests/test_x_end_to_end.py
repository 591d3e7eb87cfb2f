"""Posts from the X filtered stream, through the real tweepy client, onto the wall."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from moderation.post import Status
from tests.fake_x import TOKEN, make_item
from tests.fake_x.server import FakeXServer
from tests.utils import RunningServer, make_settings, moderator, recv, run_server, until, ws_client

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
async def wall(fake_x: FakeXServer, store_url: str) -> AsyncIterator[RunningServer]:
    """`serve` with X_BEARER_TOKEN set: the X ingester runs inside the web process."""
    settings = make_settings(store_url=store_url, x_bearer_token=TOKEN, x_api_url=fake_x.url,
                             hashtags=["#uemedef14", "#Paroles2CEO"])
    async with run_server(settings) as running:
        yield running


def _x_health(running: RunningServer) -> dict[str, object]:
    return next(s.health() for s in running.wall.sources if s.name == "x")


async def test_streamed_posts_are_queued_then_shown_once_approved(
    fake_x: FakeXServer, wall: RunningServer
) -> None:
    """A post the fake X server streams waits in the queue and reaches /ws after approval."""
    await until(lambda: _x_health(wall)["connected"] is True)
    assert [r["value"] for r in fake_x.rules.values()] == ["(#uemedef14 OR #Paroles2CEO)"]
    fake_x.push(make_item("Bonjour #uemedef14 !", post_id="1600000000000000001"))
    await until(lambda: _x_health(wall)["posts_received"] == 1)
    item = await wall.wall.store.get("x:1600000000000000001")
    assert item is not None and item.status is Status.PENDING
    async with ws_client(f"{wall.ws_base}/ws") as ws, moderator(wall) as http:
        assert (await recv(ws))["posts"] == []
        response = await http.post("/api/posts/x:1600000000000000001/approve")
        assert response.status_code == 200
        shown = await recv(ws)
    assert shown["type"] == "post.shown"
    assert shown["post"]["text"] == "Bonjour #uemedef14 !"
    assert shown["post"]["author"]["handle"] == "ada"


async def test_reconnect_that_replays_posts_adds_no_duplicate(
    fake_x: FakeXServer, wall: RunningServer
) -> None:
    """Posts sent again after an operational disconnect are queued only once."""
    await until(lambda: _x_health(wall)["connected"] is True)
    first = make_item("Un #uemedef14", post_id="1600000000000000011")
    second = make_item("Deux #uemedef14", post_id="1600000000000000012")
    fake_x.push(first)
    fake_x.push(second)
    await until(lambda: _x_health(wall)["posts_received"] == 2)
    fake_x.push_operational_disconnect()
    await until(lambda: _x_health(wall)["reconnects"] == 1 and _x_health(wall)["connected"])
    fake_x.push(first)
    fake_x.push(second)
    third = make_item("Trois #uemedef14", post_id="1600000000000000013")
    fake_x.push(third)
    await until(lambda: _x_health(wall)["posts_received"] >= 3)
    await until(lambda: _x_health(wall)["duplicates_dropped"] == 2)
    pending = await wall.wall.store.list_items(Status.PENDING)
    assert [i.post.id for i in pending] == [
        "x:1600000000000000011", "x:1600000000000000012", "x:1600000000000000013",
    ]


async def test_refused_token_turns_healthz_red(fake_x: FakeXServer, store_url: str) -> None:
    """A token the X API refuses stops the ingester and /healthz answers 503 with the reason."""
    settings = make_settings(store_url=store_url, x_bearer_token="wrong-token",
                             x_api_url=fake_x.url)
    async with run_server(settings) as running, moderator(running) as http:
        await until(lambda: _x_health(running)["state"] == "failed")
        health = await http.get("/healthz")
    assert health.status_code == 503
    body = health.json()
    assert body["ok"] is False and body["sources"]["x"]["state"] == "failed"
    assert body["sources"]["x"]["last_error"]


async def test_x_check_command_reports_rules_and_bad_tokens(
    fake_x: FakeXServer, tmp_path: Path
) -> None:
    """`hashwall x check` lists the active rules, and says clearly when the token is refused."""
    fake_x.add_rule("(#uemedef14 OR #Paroles2CEO)", tag="hashwall:1")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HASHWALL_")}
    env.update(PYTHONPATH=str(ROOT), HASHWALL_X_API_URL=fake_x.url, X_BEARER_TOKEN=TOKEN)

    def run(token: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "server.cli", "x", "check"], cwd=tmp_path,
                              env={**env, "X_BEARER_TOKEN": token}, capture_output=True,
                              text=True, timeout=60)

    good, bad = await asyncio.gather(asyncio.to_thread(run, TOKEN),
                                     asyncio.to_thread(run, "nope"))
    assert good.returncode == 0, good.stderr
    assert "(#uemedef14 OR #Paroles2CEO)" in good.stdout
    assert bad.returncode == 1
    assert "Traceback" not in bad.stderr and fake_x.url in bad.stderr


async def test_ingest_role_stops_with_a_clear_message_on_a_refused_token(
    fake_x: FakeXServer, tmp_path: Path, store_url: str
) -> None:
    """`hashwall ingest` with a refused token exits non-zero and says why, without retrying."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HASHWALL_")}
    env.update(PYTHONPATH=str(ROOT), HASHWALL_X_API_URL=fake_x.url, X_BEARER_TOKEN="nope",
               HASHWALL_STORE_URL=store_url)
    result = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "server.cli", "ingest"], cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1
    assert "ingest stopped: x:" in result.stderr
    assert "401" in result.stderr or "nauthorized" in result.stderr
    assert len(fake_x.stream_requests()) + len(fake_x.rules_requests()) <= 2
