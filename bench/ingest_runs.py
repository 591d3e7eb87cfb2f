"""Runs of bench/ingest.py, each in a fresh process on the server core, per source and store."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import sys
from pathlib import Path
from typing import Any

import redis

from bench import posts
from bench.procstat import child_setup, pin
from bench.targets import ROOT, clean_env

logger = logging.getLogger(__name__)

RUN_TIMEOUT = 180.0


async def _ingest(args: list[str], core: int | None) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.ingest", *args, cwd=ROOT, env=clean_env(),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        preexec_fn=child_setup,
    )
    pin(process.pid, core)
    out, err = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT)
    if process.returncode != 0:
        raise RuntimeError(f"bench.ingest {args[0]} failed: {err.decode()[-2000:]}")
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    result["posts_per_second"] = result["items"] / result["seconds"]
    return result


async def _from_fake_x(file: Path, store: str, server_core: int | None,
                       load_core: int | None) -> dict[str, Any]:
    feed = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.fake_x_feed", "--file", str(file), cwd=ROOT,
        env=clean_env(), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        preexec_fn=child_setup,
    )
    pin(feed.pid, load_core)
    assert feed.stdout is not None and feed.stdin is not None
    try:
        url = (await asyncio.wait_for(feed.stdout.readline(), 60)).decode().strip()
        if not url.startswith("http"):
            raise RuntimeError("the fake X server did not start")
        return await _ingest(["x", "--file", str(file), "--store", store, "--api-url", url],
                             server_core)
    finally:
        feed.stdin.close()
        try:
            await asyncio.wait_for(feed.wait(), 15)
        except TimeoutError:
            feed.kill()
            await feed.wait()


def fake_x_available() -> bool:
    """Whether the fake X server and the X ingester are in this tree."""
    return all(importlib.util.find_spec(name) is not None
               for name in ("tests.fake_x.server", "server.sources.x.source"))


async def ingest_rates(folder: Path, items: int, runs: int, server_core: int | None,
                       load_core: int | None, redis_url: str | None) -> dict[str, Any]:
    """Posts per second from a replay file and from fake X, into SQLite and Redis (when given)."""
    file = folder / "ingest.jsonl"
    posts.write_replay(file, posts.stream_items(items))
    results: dict[str, list[dict[str, Any]]] = {}
    for n in range(runs):
        sqlite = f"sqlite:///{folder / f'ingest-{n}.sqlite3'}"
        results.setdefault("replay-sqlite", []).append(
            await _ingest(["replay", "--file", str(file), "--store", sqlite], server_core))
        if redis_url is not None:
            redis.Redis.from_url(redis_url).flushall()
            results.setdefault("replay-redis", []).append(
                await _ingest(["replay", "--file", str(file), "--store", redis_url],
                              server_core))
        if fake_x_available():
            sqlite = f"sqlite:///{folder / f'ingest-x-{n}.sqlite3'}"
            results.setdefault("x-sqlite", []).append(
                await _from_fake_x(file, sqlite, server_core, load_core))
            if redis_url is not None:
                redis.Redis.from_url(redis_url).flushall()
                results.setdefault("x-redis", []).append(
                    await _from_fake_x(file, redis_url, server_core, load_core))
    if not fake_x_available():
        logger.warning("the fake X server or the X ingester is missing: replay file only")
    for source, rows in results.items():
        logger.info("ingest %s: %s posts/s", source,
                    ", ".join(f"{r['posts_per_second']:.0f}" for r in rows))
    return {"items": items, "sources": results}
