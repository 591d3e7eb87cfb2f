"""`hashwall mastodon check` against fake Mastodon servers, and the source in `serve`."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import httpx

from tests.fake_mastodon.recordings import unique_statuses
from tests.fake_mastodon.server import TOKEN, FakeMastodonServer
from tests.utils import free_port

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 30.0


def _env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HASHWALL_")}
    env.pop("X_BEARER_TOKEN", None)
    env.update(PYTHONPATH=str(ROOT), **values)
    return env


async def _run(*args: str, cwd: Path, **env: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server.cli", *args, cwd=cwd, env=_env(**env),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), TIMEOUT)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_check_reports_each_server_token_timeline_and_streaming_url(
        tmp_path: Path) -> None:
    """A working server, a refused token and a signed-in-only server are each reported."""
    async with FakeMastodonServer() as good, FakeMastodonServer(token="other") as refused, \
            FakeMastodonServer(signed_in_only=True) as closed:
        tokens = tmp_path / "tokens.txt"
        tokens.write_text(f"# read tokens\n{good.host}={TOKEN}\n{refused.host}=revoked\n")
        code, out, err = await _run(
            "mastodon", "check", cwd=tmp_path, HASHWALL_HASHTAGS="#uemedef14,#Paroles2CEO",
            HASHWALL_MASTODON_INSTANCES=f"{good.base},{refused.base},{closed.base}",
            HASHWALL_MASTODON_TOKENS=str(tokens))
    assert code == 1, err
    reports = {r["server"]: r for r in json.loads(out)}
    assert reports[good.host] | {"tag_timeline": None} == {
        "server": good.host, "ok": True, "answers": True, "version": "4.3.0",
        "token": "works", "tag_timeline": None,
        "streaming_url": good.base.replace("http", "ws"), "mode": "streaming"}
    assert reports[good.host]["tag_timeline"].startswith("readable")
    assert reports[refused.host]["token"] == (
        "refused: HTTP 401: The access token is invalid")
    assert not reports[refused.host]["ok"]
    assert "signed-in users only" in reports[closed.host]["tag_timeline"]
    assert "HASHWALL_MASTODON_TOKENS" in reports[closed.host]["tag_timeline"]
    good_timeline = good.logged("/api/v1/timelines/tag/uemedef14")
    assert good_timeline[-1].query["any[]"] == ["Paroles2CEO"]


async def test_check_says_when_a_server_does_not_answer(tmp_path: Path) -> None:
    """A server nobody listens on is reported as not answering, exit code 1."""
    port = free_port()
    code, out, _ = await _run("mastodon", "check", cwd=tmp_path,
                              HASHWALL_MASTODON_INSTANCES=f"http://127.0.0.1:{port}")
    (report,) = json.loads(out)
    assert code == 1 and report["answers"].startswith("no: ")


async def test_bad_mastodon_settings_stop_hashwall_naming_the_setting(tmp_path: Path) -> None:
    """A malformed server list or token pair is a start-up error naming the setting."""
    code, _, err = await _run("mastodon", "check", cwd=tmp_path,
                              HASHWALL_MASTODON_INSTANCES="ftp://piaille.fr")
    assert code == 2 and "HASHWALL_MASTODON_INSTANCES" in err
    code, _, err = await _run("mastodon", "check", cwd=tmp_path,
                              HASHWALL_MASTODON_INSTANCES="piaille.fr",
                              HASHWALL_MASTODON_TOKENS="piaille.fr")
    assert code == 2 and "HASHWALL_MASTODON_TOKENS" in err


async def test_serve_follows_mastodon_and_reports_it_on_healthz(tmp_path: Path) -> None:
    """`hashwall serve` with Mastodon settings streams statuses into the queue, and
    /healthz and /metrics show the server's mode."""
    status = next(s for s in unique_statuses("rtoot_real_statuses.jsonl")
                  if s["visibility"] == "public" and not s.get("reblog"))
    async with FakeMastodonServer() as server:
        server.post(status, "#uemedef14")
        port = free_port()
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "server.cli", "serve", "--port", str(port), cwd=tmp_path,
            env=_env(HASHWALL_MASTODON_INSTANCES=server.base,
                     HASHWALL_MASTODON_TOKENS=f"{server.host}={TOKEN}",
                     HASHWALL_MODERATOR_PASSWORD="secret-password",
                     HASHWALL_STORE_URL=f"sqlite:///{tmp_path / 'wall.sqlite3'}"),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}",
                                         timeout=5) as http:
                async with asyncio.timeout(TIMEOUT):
                    while True:
                        try:
                            health = (await http.get("/healthz")).json()
                            part = health["sources"]["mastodon"]["connections"][server.host]
                            if part["handed_on"] >= 1 and part["state"] == "connected":
                                break
                        except (httpx.TransportError, KeyError, ValueError):
                            pass
                        await asyncio.sleep(0.1)  # polling another process: no event to await
                assert part["mode"] == "streaming"
                metrics = (await http.get("/metrics")).text
                assert (f'hashwall_source_mode{{connection="{server.host}",mode="streaming",'
                        f'source="mastodon"}} 1.0') in metrics
        finally:
            process.terminate()
            await asyncio.wait_for(process.wait(), TIMEOUT)
