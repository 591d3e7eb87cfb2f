"""The `hashwall` command as a user runs it: a real subprocess."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.utils import TIMEOUT, free_port, recv, ws_client

ROOT = Path(__file__).resolve().parents[1]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HASHWALL_")}
    env.pop("X_BEARER_TOKEN", None)
    env.update(extra)
    return env


def _run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "server.cli", *args], cwd=cwd,
                          env=_env(PYTHONPATH=str(ROOT), **env), capture_output=True,
                          text=True, timeout=60)


def test_bad_store_url_is_a_clear_error(tmp_path: Path) -> None:
    """A store URL of an unknown scheme stops `serve` with a message naming the setting."""
    result = _run(["serve", "--port", str(free_port())], tmp_path,
                  HASHWALL_STORE_URL="postgres://db/wall")
    assert result.returncode == 2
    assert "HASHWALL_STORE_URL" in result.stderr
    assert "expected a URL starting with sqlite:/// or redis://" in result.stderr
    assert "Traceback" not in result.stderr


def test_store_in_a_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    """A SQLite path whose folder does not exist is reported before anything starts."""
    result = _run(["serve", "--port", str(free_port())], tmp_path,
                  HASHWALL_STORE_URL=f"sqlite:///{tmp_path}/nowhere/wall.sqlite3")
    assert result.returncode == 2
    assert "does not exist" in result.stderr and "Traceback" not in result.stderr


def test_bad_port_and_hashtag_settings_are_clear_errors(tmp_path: Path) -> None:
    """A PORT that is not a number and a hashtag with a space each name themselves."""
    result = _run(["serve"], tmp_path, PORT="eighty")
    assert result.returncode == 2 and "PORT" in result.stderr
    result = _run(["serve"], tmp_path, HASHWALL_HASHTAGS="#ok,#not ok")
    assert result.returncode == 2 and "HASHWALL_HASHTAGS" in result.stderr


async def test_demo_serves_health_and_approved_posts(tmp_path: Path) -> None:
    """`hashwall demo` starts, prints the password, serves /healthz and approved posts on /ws."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server.cli", "demo", "--port", str(port), "--speed", "0",
        cwd=tmp_path, env=_env(PYTHONPATH=str(ROOT), PORT="1"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        password = None
        async with asyncio.timeout(30):
            while password is None:
                line = (await process.stdout.readline()).decode()
                assert line, "demo exited before printing its password"
                if "moderator password:" in line:
                    password = line.rsplit(":", 1)[1].strip()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}",
                                     timeout=TIMEOUT) as http:
            async with asyncio.timeout(30):
                while True:
                    try:
                        health = await http.get("/healthz")
                    except httpx.TransportError:
                        await asyncio.sleep(0.1)
                        continue
                    body = health.json()
                    if body["sources"]["replay"]["state"] == "finished":
                        break
                    await asyncio.sleep(0.1)
            assert health.status_code == 200 and body["ok"] is True
            assert body["sources"]["replay"]["posts"] >= 150
            login = await http.post("/api/login", json={"name": "ana", "password": password})
            assert login.status_code == 200
            pending = (await http.get("/api/posts?status=pending&limit=500")).json()["items"]
            # No HASHWALL_PUBLIC_URL: the demo's own address is the public one, so a console
            # opened at localhost on the chosen port connects.
            cookie = {"Cookie": "; ".join(f"{k}={v}" for k, v in http.cookies.items())}
            async with ws_client(f"ws://127.0.0.1:{port}/ws/moderate", additional_headers=cookie,
                                 origin=f"http://localhost:{port}") as console:
                assert (await recv(console))["type"] == "queue.snapshot"
        async with ws_client(f"ws://127.0.0.1:{port}/ws") as ws:
            snapshot = await recv(ws)
        assert snapshot["type"] == "snapshot" and len(snapshot["posts"]) >= 20
        assert len(pending) >= 50
        assert (tmp_path / "hashwall-demo.sqlite3").exists()
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 30)
