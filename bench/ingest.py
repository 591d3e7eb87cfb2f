"""Ingest rate: posts per second through normalisation and rules into the queue.

Run in its own process, pinned to the server core, once per source:
  python -m bench.ingest replay --file ITEMS.jsonl --store URL
  python -m bench.ingest x --file ITEMS.jsonl --store URL --api-url URL
  python -m bench.ingest mastodon --file STATUSES.jsonl --store URL
It prints one JSON line: items read, posts queued, seconds taken (until the last post is
in the store) and the writes to the store they took.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import sys
import time
from pathlib import Path
from typing import Any

from moderation.post import Status
from server.settings import load_settings
from server.sources.base import StreamingSource
from server.sources.replay import ReplaySource
from server.state import open_wall

# The registry imports a source's module when a wall first makes that source (so a wall
# without X never loads tweepy and aiohttp). A running server has done so long before its
# posts arrive: load them here, before any clock starts, so that a run times ingest, not
# 0.2 s of imports.
PRELOADED = ("server.sources.x.source", "server.sources.mastodon.normalise")
for _module in PRELOADED:
    importlib.import_module(_module)

TIMEOUT = 120.0
BEARER = "bench-bearer-token"
BLOCKED = ["casino", "crypto giveaway", "arnaque"]


def _settings(store: str, **sources: Any) -> Any:
    # A realistic rule set: trusted authors approve at once, a blocklist rejects.
    return load_settings(store_url=store, trusted_authors=["UEMedef_Live", "medef"],
                         blocked_words=BLOCKED, moderator_password="unused", **sources)


async def from_replay(file: Path, store_url: str) -> dict[str, Any]:
    """Replay the file as fast as it goes; time until its last line is queued."""
    settings = _settings(store_url, sources="replay", replay_file=file, replay_speed=0)
    started = time.perf_counter()
    async with open_wall(settings, serve=False) as wall:
        (source,) = wall.sources
        assert isinstance(source, ReplaySource)
        await asyncio.wait_for(source.done.wait(), TIMEOUT)
        await asyncio.wait_for(wall.pipeline.settled(), TIMEOUT)
        seconds = time.perf_counter() - started
        queued = sum([await wall.store.count(status) for status in Status])
        return {"items": wall.pipeline.received, "queued": queued, "seconds": seconds,
                "errors": len(source.errors), "batches": wall.pipeline.batches}


async def from_x(expected: int, store_url: str, api_url: str) -> dict[str, Any]:
    """Follow the fake X stream, which holds `expected` items; time until all were handed on."""
    settings = _settings(store_url, sources="x", x_bearer_token=BEARER, x_api_url=api_url)
    started = time.perf_counter()
    async with open_wall(settings, serve=False) as wall:
        (source,) = wall.sources
        pipeline = wall.pipeline
        assert isinstance(source, StreamingSource)
        await source.wait_for(lambda health: pipeline.received >= expected, TIMEOUT)
        await asyncio.wait_for(pipeline.settled(), TIMEOUT)
        seconds = time.perf_counter() - started
        queued = sum([await wall.store.count(status) for status in Status])
        return {"items": pipeline.received, "queued": queued, "seconds": seconds, "errors": 0,
                "batches": pipeline.batches}


async def from_mastodon(lines: list[str], store_url: str) -> dict[str, Any]:
    """Mastodon statuses (as a stream's `update` payloads) through the visibility policy,
    the normaliser, the rules and the queue; time until the last one is in the store."""
    from server.sources.mastodon.normalise import admissible, normalise_status

    settings = _settings(store_url, sources="")
    started = time.perf_counter()
    async with open_wall(settings, serve=False) as wall:
        for line in lines:
            status = json.loads(line)
            if admissible(status):
                await wall.pipeline.offer(normalise_status(status, "mastodon.social"))
        await asyncio.wait_for(wall.pipeline.settled(), TIMEOUT)
        seconds = time.perf_counter() - started
        queued = sum([await wall.store.count(status) for status in Status])
        return {"items": len(lines), "queued": queued, "seconds": seconds, "errors": 0,
                "batches": wall.pipeline.batches}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("source", choices=["replay", "x", "mastodon"])
    parser.add_argument("--file", type=Path, required=True)
    parser.add_argument("--store", required=True)
    parser.add_argument("--api-url", default="")
    args = parser.parse_args()
    if args.source == "replay":
        result = asyncio.run(from_replay(args.file, args.store))
    elif args.source == "mastodon":
        lines = [line for line in args.file.read_text(encoding="utf-8").splitlines()
                 if line.strip()]
        result = asyncio.run(from_mastodon(lines, args.store))
    else:
        lines = args.file.read_text(encoding="utf-8").splitlines()
        expected = sum(1 for line in lines if line.strip())
        result = asyncio.run(from_x(expected, args.store, args.api_url))
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
