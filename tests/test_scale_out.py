"""The Procfile roles as separate processes on one Redis: two web processes and one ingest."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from tests.redis_server import RedisServer
from tests.scale_out import Cluster, cluster_env, running, signed_in, write_replay
from tests.utils import TIMEOUT, free_port, recv, session_cookie, ws_client


async def _until_answer(ws: ClientConnection, ref: str) -> dict[str, Any]:
    """Read a console until the answer to `ref` arrives."""
    async with asyncio.timeout(TIMEOUT):
        while True:
            message = await recv(ws)
            if message.get("ref") == ref:
                return message


async def _console_until(ws: ClientConnection, seen: list[dict[str, Any]], type_: str,
                         post_id: str) -> None:
    """Read a console, keeping every message, until `type_` arrives for `post_id`."""
    async with asyncio.timeout(TIMEOUT):
        while True:
            message = await recv(ws)
            seen.append(message)
            if message["type"] == type_ and message.get("id") == post_id:
                return


async def test_a_decision_on_one_web_process_reaches_the_other(
    tmp_path: Path, own_redis: RedisServer,
) -> None:
    """Approve through one web process, see it on the other's /ws; a race has one winner."""
    replay = write_replay(tmp_path / "stream.jsonl", 6)
    cluster = Cluster(tmp_path, cluster_env(own_redis.url, replay, 0))
    a, b, ingest = cluster.web("web-a"), cluster.web("web-b"), cluster.ingest()
    async with running(cluster), signed_in(a, "ana") as ana, signed_in(b, "ben") as ben:
        # One key for all: ana's session, made by web-a, is valid on web-b.
        async with httpx.AsyncClient(base_url=b.base, cookies=ana.cookies) as ana_on_b:
            assert (await ana_on_b.get("/api/me")).json()["moderator"] == "ana"
        cookie = {"Cookie": session_cookie(ben)}
        async with ws_client(f"{b.ws_base}/ws") as screen, \
                ws_client(f"{b.ws_base}/ws/moderate", additional_headers=cookie) as console:
            assert (await recv(screen))["type"] == "snapshot"
            queued: set[str] = set()
            async with asyncio.timeout(TIMEOUT):
                while len(queued) < 6:
                    message = await recv(console)
                    if message["type"] == "queue.snapshot":
                        queued |= {i["post"]["id"] for i in message["pending"]}
                    elif message["type"] == "queue.added":
                        queued.add(message["item"]["post"]["id"])
            start = time.monotonic()
            response = await ana.post("/api/posts/x:1/approve", json={"ref": "a-1"})
            assert response.status_code == 200, response.text
            shown = await recv(screen)
            latency = time.monotonic() - start
            assert (shown["type"], shown["post"]["id"]) == ("post.shown", "x:1")
            print(f"approved on web-a, shown on web-b's /ws after {latency * 1000:.0f} ms")

            results = await asyncio.gather(
                ana.post("/api/posts/x:2/approve", json={"expected": "pending"}),
                ben.post("/api/posts/x:2/reject", json={"expected": "pending"}),
            )
            assert sorted(r.status_code for r in results) == [200, 409]
            assert (await ben.post("/api/posts/x:3/approve")).status_code == 200
            seen: list[dict[str, Any]] = []
            await _console_until(console, seen, "queue.decided", "x:3")
            decided = [m for m in seen if m["type"] == "queue.decided" and m["id"] == "x:2"]
            assert len(decided) == 1
            winner = results[0] if results[0].status_code == 200 else results[1]
            assert decided[0]["status"] == winner.json()["status"]
        async with httpx.AsyncClient(timeout=TIMEOUT) as http:
            health = (await http.get(f"{b.base}/healthz")).json()
            status = (await http.get(f"{ingest.base}/healthz")).json()
            metrics = (await http.get(f"{ingest.base}/metrics")).text
        # The web processes run no source although they share the ingest role's settings.
        assert health["store"]["backend"] == "redis" and health["sources"] == {}
        assert status["ok"] and status["sources"]["replay"]["posts"] == 6
        samples = {s.name: s.value for f in text_string_to_metric_families(metrics)
                   for s in f.samples if not s.labels}
        assert samples["hashwall_posts_received_total"] == 6
        assert samples["hashwall_store_up"] == 1 and samples["hashwall_queue_depth"] == 3
    # Each role shut down cleanly on SIGTERM (uvicorn re-raises it once it has finished).
    assert ingest.process is not None and ingest.process.returncode == 0
    for web in (a, b):
        assert "Application shutdown complete" in web.log.read_text()


class Screen:
    """What one screen was shown: every post with its sequence number, in arrival order."""

    def __init__(self) -> None:
        self.seqs: list[int] = []
        self.ids: list[str] = []
        self._changed = asyncio.Condition()

    async def follow(self, ws: ClientConnection, until: int | None = None) -> None:
        """Record the posts a /ws client is shown, until it closes or `until` posts."""
        with contextlib.suppress(ConnectionClosed):
            async for text in ws:
                message = json.loads(text)
                assert message["type"] == "post.shown", message
                self.seqs.append(message["seq"])
                self.ids.append(message["post"]["id"])
                async with self._changed:
                    self._changed.notify_all()
                if until is not None and len(self.seqs) >= until:
                    return

    async def reach(self, seq: int) -> None:
        """Wait until this screen has been shown the event `seq`."""
        async with asyncio.timeout(TIMEOUT), self._changed:
            await self._changed.wait_for(lambda: bool(self.seqs) and self.seqs[-1] >= seq)


async def _moderate(client: httpx.AsyncClient, name: str, skip: str,
                    stop: asyncio.Event) -> None:
    """Approve every pending post, again and again, through outages, until told to stop."""
    while not stop.is_set():
        try:
            response = await client.get("/api/posts", params={"status": "pending"})
            if response.status_code == 200:
                for item in response.json()["items"]:
                    post_id = item["post"]["id"]
                    if post_id != skip:
                        await client.post(f"/api/posts/{post_id}/approve",
                                          json={"ref": f"{name}-{post_id}"})
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.05)


async def _json(url: str) -> tuple[int, dict[str, Any]]:
    async with httpx.AsyncClient(timeout=TIMEOUT) as http:
        response = await http.get(url)
        return response.status_code, response.json()


async def _wait_json(url: str, done: Any) -> dict[str, Any]:
    """Poll a JSON endpoint of another process until `done(status, body)`."""
    async with asyncio.timeout(30):
        while True:
            status, body = await _json(url)
            if done(status, body):
                return body
            await asyncio.sleep(0.05)


async def test_redis_crash_loses_nothing_and_shows_nothing_twice(
    tmp_path: Path, own_redis: RedisServer,
) -> None:
    """kill -9 Redis during a stream of posts and decisions: all arrive once, in order."""
    count = 120
    replay = write_replay(tmp_path / "stream.jsonl", count, trusted_every=2)
    # The first 40 posts at once, then one every 15 s / 300 = 50 ms.
    cluster = Cluster(tmp_path, cluster_env(own_redis.url, replay, 300))
    a, b = cluster.web("web-a"), cluster.web("web-b")
    screens = {name: Screen() for name in ("a", "b", "late")}
    stop = asyncio.Event()
    async with running(cluster), signed_in(a, "ana") as ana, signed_in(b, "ben") as ben, \
            ws_client(f"{a.ws_base}/ws") as screen_a, ws_client(f"{b.ws_base}/ws") as screen_b:
        for ws in (screen_a, screen_b):
            assert (await recv(ws))["seq"] == 0
        readers = [asyncio.create_task(screens["a"].follow(screen_a)),
                   asyncio.create_task(screens["b"].follow(screen_b))]
        moderators = [asyncio.create_task(_moderate(ana, "ana", "x:1", stop)),
                      asyncio.create_task(_moderate(ben, "ben", "x:1", stop))]
        cookie = {"Cookie": session_cookie(ben)}
        ingest = cluster.ingest()
        try:
            async with ws_client(f"{b.ws_base}/ws") as late, \
                    ws_client(f"{b.ws_base}/ws/moderate", additional_headers=cookie) as console:
                assert (await recv(late))["seq"] == 0
                await ingest.start()
                await ingest.wait_ready()
                # This screen leaves before the crash and comes back after it, with ?since=.
                await asyncio.wait_for(screens["late"].follow(late, until=20), TIMEOUT)
                await late.close()

                own_redis.kill()
                down = await _wait_json(f"{a.base}/healthz", lambda s, _: s == 503)
                assert down["store"]["ok"] is False and "unreachable" in down["store"]["error"]
                async with httpx.AsyncClient(base_url=b.base, timeout=TIMEOUT) as page:
                    assert (await page.get("/wall")).status_code == 200
                decide = json.dumps({"type": "decide", "id": "x:1", "action": "approve",
                                     "ref": "console-x1"})
                await console.send(decide)
                refused = await _until_answer(console, "console-x1")
                assert (refused["type"], refused["code"]) == ("error", "store_unavailable")
                await _wait_json(f"{ingest.base}/healthz",
                                 lambda _, body: body["backlog"]["waiting"] >= 3)

                own_redis.start()
                await console.send(decide)
                assert (await _until_answer(console, "console-x1"))["type"] == "ack"
            await _wait_json(f"{ingest.base}/healthz", lambda s, body: s == 200 and (
                body["sources"]["replay"]["state"] == "finished"
                and body["backlog"]["waiting"] == 0))
            final = await _wait_json(f"{a.base}/api/posts?status=approved&limit=500",
                                     lambda _, body: len(body["posts"]) == count)
            since = screens["late"].seqs[-1]
            async with ws_client(f"{b.ws_base}/ws?since={since}") as resumed:
                await asyncio.wait_for(
                    screens["late"].follow(resumed, until=final["seq"]), TIMEOUT)
            await screens["a"].reach(final["seq"])
            await screens["b"].reach(final["seq"])
            held = (await _json(f"{ingest.base}/healthz"))[1]["backlog"]["held_total"]
        finally:
            stop.set()
            await asyncio.gather(*moderators)
            await ingest.stop()
        # The screens that stayed connected through the crash are still connected.
        assert screen_a.state.name == "OPEN" and screen_b.state.name == "OPEN"
    for reader in readers:
        reader.cancel()
    every = {f"x:{n}" for n in range(1, count + 1)}
    assert final["seq"] == count and {p["id"] for p in final["posts"]} == every
    for screen in screens.values():
        assert screen.seqs == list(range(1, count + 1))
        assert len(screen.ids) == count and set(screen.ids) == every
    assert held >= 3


async def _cli(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str]:
    """Run `hashwall ARGS` to its end; its exit code and error output."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server.cli", *args, cwd=cwd, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode is not None
    return process.returncode, err.decode()


async def test_wrong_redis_settings_stop_each_role_with_a_clear_error(tmp_path: Path) -> None:
    """No Redis there, no shared key or password, a bad status port: each role says why."""
    replay = write_replay(tmp_path / "stream.jsonl", 1)
    nobody = f"redis://127.0.0.1:{free_port()}/0"
    env = cluster_env(nobody, replay, 0)
    no_key = {k: v for k, v in env.items() if k != "HASHWALL_SECRET_KEY"}
    no_password = {k: v for k, v in env.items() if k != "HASHWALL_MODERATOR_PASSWORD"}
    port = str(free_port())
    results = await asyncio.gather(
        _cli(["serve", "--port", port], env, tmp_path),
        _cli(["ingest"], env, tmp_path),
        _cli(["serve", "--port", port], no_key, tmp_path),
        _cli(["serve", "--port", port], no_password, tmp_path),
        _cli(["ingest"], {**env, "HASHWALL_INGEST_STATUS": "host:nine"}, tmp_path),
    )
    for code, err in results:
        assert code == 2 and "Traceback" not in err, err
    for _, err in results[:2]:
        assert f"cannot open {nobody}" in err and "Connect call failed" in err
    assert "HASHWALL_SECRET_KEY: required with a Redis store" in results[2][1]
    assert "HASHWALL_MODERATOR_PASSWORD or HASHWALL_ACCOUNTS_FILE" in results[3][1]
    assert "HASHWALL_INGEST_STATUS: Value error, expected a port or host:port" in results[4][1]
