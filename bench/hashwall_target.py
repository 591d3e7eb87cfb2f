"""hashwall as a target of the bench: `hashwall serve` (and `hashwall ingest` on Redis)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from bench.targets import Target, clean_env

PASSWORD = "bench-moderator-password"


class Hashwall(Target):
    """`hashwall serve`, with its queue filled from a replay file; publishing is approving.

    On SQLite the replay runs inside `serve`; on Redis it runs in `hashwall ingest`, the
    Procfile's other role, which stops once the queue holds every post.
    """

    def __init__(self, folder: Path, core: int | None, store_url: str, replay: Path,
                 post_ids: list[str], label: str, **settings: Any) -> None:
        super().__init__(folder, core)
        self.store_url = store_url
        self.replay = replay
        self.expected = len(post_ids)
        self.pending = list(reversed(post_ids))
        self.label = label
        self.settings = settings

    def command(self) -> list[str]:
        return [sys.executable, "-m", "server.cli", "serve", "--host", "127.0.0.1",
                "--port", str(self.port)]

    def env(self) -> dict[str, str]:
        env = clean_env()
        env.update({
            "HASHWALL_STORE_URL": self.store_url,
            "HASHWALL_REPLAY_FILE": str(self.replay),
            "HASHWALL_REPLAY_SPEED": "0",
            "HASHWALL_MODERATOR_PASSWORD": PASSWORD,
            "HASHWALL_SECRET_KEY": "bench-secret-key",
        })
        for name, value in self.settings.items():
            env[f"HASHWALL_{name.upper()}"] = str(value)
        return env

    async def start(self) -> None:
        """Start `serve` (and `ingest` on Redis) and wait until every post is queued."""
        ingester = None
        if not self.store_url.startswith("sqlite"):
            ingester = self._spawn([sys.executable, "-m", "server.cli", "ingest"],
                                   f"{self.label}-ingest")
        try:
            await super().start()
        finally:
            if ingester is not None:
                await asyncio.to_thread(self._terminate, ingester)

    async def queued(self) -> int:
        """How many posts the queue holds, whatever the rules decided, read from the store."""
        from moderation.post import Status
        from moderation.store import create_store

        store = create_store(self.store_url)
        await store.open()
        try:
            return sum([await store.count(status) for status in Status])
        finally:
            await store.close()

    async def ready(self) -> bool:
        assert self.http is not None
        if (await self.http.get("/healthz")).status_code != 200:
            return False
        # Any queued post can be approved, even one a blocklist rejected.
        if await self.queued() < self.expected:
            return False
        response = await self.http.post("/api/login", json={"name": "bench", "password": PASSWORD})
        response.raise_for_status()
        csrf = response.json().get("csrf")
        if csrf:
            self.http.headers["X-CSRF-Token"] = csrf
        return True

    def next_post(self) -> str:
        """The id of the next pending post to approve."""
        if not self.pending:
            raise RuntimeError(f"{self.label}: no pending post left to approve")
        return self.pending.pop()

    async def approve(self, post_id: str) -> None:
        """Approve one post over HTTP, as a moderator's tap does."""
        assert self.http is not None
        response = await self.http.post(f"/api/posts/{post_id}/approve")
        if response.status_code != 200:
            raise RuntimeError(f"approving {post_id} answered {response.status_code}: "
                               f"{response.text}")

    async def publish(self) -> None:
        """Approve the next pending post."""
        await self.approve(self.next_post())

    async def health(self) -> dict[str, Any]:
        """The server's /healthz answer."""
        assert self.http is not None
        body: dict[str, Any] = (await self.http.get("/healthz")).json()
        return body
