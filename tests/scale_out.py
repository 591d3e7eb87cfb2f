"""The Procfile roles as real subprocesses on one real Redis, for the scale-out tests."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.utils import PASSWORD, TIMEOUT, free_port

ROOT = Path(__file__).resolve().parents[1]
TRUSTED = "trusted"


def stream_item(n: int, handle: str) -> dict[str, Any]:
    """One X API v2 filtered-stream item, as the replay source reads it."""
    return {
        "data": {"id": str(n), "text": f"post {n} from the room #uemedef14",
                 "author_id": f"u{handle}", "created_at": "2014-08-27T09:00:00.000Z",
                 "edit_history_tweet_ids": [str(n)]},
        "includes": {"users": [{"id": f"u{handle}", "name": handle.title(), "username": handle}]},
    }


def write_replay(path: Path, count: int, trusted_every: int = 0) -> Path:
    """A replay file of `count` posts; every `trusted_every`-th one by a trusted author."""
    lines = []
    for n in range(1, count + 1):
        handle = TRUSTED if trusted_every and n % trusted_every == 0 else f"guest{n % 7}"
        lines.append(json.dumps(stream_item(n, handle)))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@dataclass
class Role:
    """One `hashwall` subprocess: `serve` (web) or `ingest`."""

    name: str
    args: list[str]
    env: dict[str, str]
    log: Path
    port: int | None = None
    process: asyncio.subprocess.Process | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_base(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "server.cli", *self.args, cwd=self.log.parent,
                env=self.env, stdout=log, stderr=log)

    async def wait_ready(self) -> None:
        """Wait until the role answers /healthz (any status: it may report a failing store)."""
        async with httpx.AsyncClient(timeout=2) as http, asyncio.timeout(30):
            while True:
                assert self.process is not None and self.process.returncode is None, (
                    f"{self.name} exited:\n{self.log.read_text()[-3000:]}")
                with contextlib.suppress(httpx.TransportError):
                    await http.get(f"{self.base}/healthz")
                    return
                await asyncio.sleep(0.05)

    async def stop(self) -> int | None:
        """SIGTERM, then kill after a grace period; the exit code."""
        if self.process is None or self.process.returncode is not None:
            return self.process.returncode if self.process else None
        self.process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.process.wait(), 10)
        except TimeoutError:
            self.process.kill()
            return await self.process.wait()


@dataclass
class Cluster:
    """Web processes and an ingest process sharing one Redis, started as a user would."""

    folder: Path
    env: dict[str, str]
    roles: list[Role] = field(default_factory=list)

    def web(self, name: str) -> Role:
        port = free_port()
        role = Role(name, ["serve", "--port", str(port)], self.env, self.folder / f"{name}.log",
                    port)
        self.roles.append(role)
        return role

    def ingest(self) -> Role:
        port = free_port()
        role = Role("ingest", ["ingest"], {**self.env, "HASHWALL_INGEST_STATUS": str(port)},
                    self.folder / "ingest.log", port)
        self.roles.append(role)
        return role


def cluster_env(redis_url: str, replay: Path, speed: float) -> dict[str, str]:
    """One environment for every role, like one `.env` file read by honcho."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("HASHWALL_") and k != "X_BEARER_TOKEN"}
    env.update(PYTHONPATH=str(ROOT), HASHWALL_STORE_URL=redis_url,
               HASHWALL_REPLAY_FILE=str(replay), HASHWALL_REPLAY_SPEED=str(speed),
               HASHWALL_MODERATOR_PASSWORD=PASSWORD, HASHWALL_SECRET_KEY="one key for all",
               HASHWALL_TRUSTED_AUTHORS=TRUSTED)
    return env


@contextlib.asynccontextmanager
async def running(cluster: Cluster) -> AsyncIterator[Cluster]:
    """Start every role of a cluster at once, and stop them all afterwards."""
    try:
        await asyncio.gather(*(role.start() for role in cluster.roles))
        await asyncio.gather(*(role.wait_ready() for role in cluster.roles))
        yield cluster
    finally:
        await asyncio.gather(*(role.stop() for role in cluster.roles))


@contextlib.asynccontextmanager
async def signed_in(role: Role, name: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of one web process, signed in as a moderator."""
    async with httpx.AsyncClient(base_url=role.base, timeout=TIMEOUT) as client:
        response = await client.post("/api/login", json={"name": name, "password": PASSWORD})
        assert response.status_code == 200, response.text
        client.headers["X-CSRF-Token"] = response.json()["csrf"]
        yield client
