"""Bluesky ingest rate: Jetstream events per second read, matched and normalised on one core.

python -m bench.bluesky [--events N] [--compress] [--out DIR]
Replays the recorded Jetstream corpus (posts and reposts, what the source subscribes to)
mixed with the hand-written hashtag events, repeated with fresh time_us until N events,
through the source's own event handling (`BlueskySource.handle`: parse, de-duplicate, match,
normalise, hand on) with every author's profile already cached, so it measures the CPU path
a full-network stream takes. Prints one JSON line, and writes DIR/bluesky.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from moderation.post import Post
from moderation.store import create_store
from server.sources.bluesky.compression import shipped_dictionary
from server.sources.bluesky.events import POST, REPOST
from server.sources.bluesky.profiles import Profile
from server.sources.bluesky.source import BlueskyConfig, BlueskySource
from tests.fake_bluesky.jetstream import JetstreamCompressor

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "bluesky"
TARGET = 5_000


class _CountingSink:
    def __init__(self) -> None:
        self.offered = 0
        self.retracted = 0

    async def offer(self, post: Post) -> None:
        self.offered += 1

    async def retract(self, post_id: str, reason: str) -> None:
        self.retracted += 1


def stream(events: int) -> list[bytes]:
    """`events` Jetstream frames: the subscribed part of the recordings, repeated."""
    lines = []
    for name in ("jetstream_v1_corpus.jsonl", "written_events.jsonl"):
        for line in (FIXTURES / name).read_bytes().splitlines():
            commit = orjson.loads(line).get("commit")
            if commit is None or commit["collection"] in (POST, REPOST):
                lines.append(orjson.loads(line))
    frames: list[bytes] = []
    round_ = 0
    while len(frames) < events:
        for event in lines:
            if len(frames) == events:
                break
            frames.append(orjson.dumps(_round(event, round_)))
        round_ += 1
    return frames


def _round(event: dict[str, Any], round_: int) -> dict[str, Any]:
    """The event in round `round_`: a later stretch of time, records of their own (so
    none of it is a replay, and every post is new)."""
    event = {**event, "time_us": event["time_us"] + round_ * 10**8}
    commit = event.get("commit")
    if commit is not None and round_:
        commit = event["commit"] = {**commit, "rkey": f"{commit['rkey']}r{round_}"}
        subject = (commit.get("record") or {}).get("subject")
        if commit["collection"] == REPOST and isinstance(subject, dict):
            commit["record"] = {**commit["record"],
                                "subject": {**subject, "uri": f"{subject['uri']}r{round_}"}}
    return event


async def measure(events: int, compress: bool) -> dict[str, Any]:
    """Time BlueskySource.handle over `events` frames."""
    frames = stream(events)
    if compress:
        compressor = JetstreamCompressor(shipped_dictionary())
        payload: list[Any] = [compressor.compress(f) for f in frames]
    else:
        payload = [f.decode("utf-8") for f in frames]
    with tempfile.TemporaryDirectory() as work:
        store = create_store(f"sqlite:///{Path(work) / 'bench.sqlite3'}")
        await store.open()
        sink = _CountingSink()
        config = BlueskyConfig(hosts=("wss://bench.invalid",), appview_url="https://bench.invalid",
                               plc_url="https://bench.invalid",
                               hashtags=("#uemedef14", "#Paroles2CEO"), compress=compress,
                               stall_timeout=None)
        source = BlueskySource(config, sink, store)
        await source.prepare()
        for frame in frames:
            did = orjson.loads(frame)["did"]
            source.cache.put(did, Profile(did, did.rsplit(":", 1)[-1] + ".bsky.social"))
        started = time.process_time()
        wall = time.perf_counter()
        for item in payload:
            await source.handle(source.KEY, item)
        cpu = time.process_time() - started
        wall = time.perf_counter() - wall
        stats = source.hosts[config.hosts[0]]
        await source.stop()
        await store.close()
    return {"events": events, "compressed": compress, "cpu_seconds": round(cpu, 3),
            "wall_seconds": round(wall, 3), "events_per_second": round(events / cpu),
            "matched": stats.matched, "offered": sink.offered, "retracted": sink.retracted,
            "target_events_per_second": TARGET}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--compress", action="store_true", help="zstd frames, as compress=true")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    results = [asyncio.run(measure(args.events, False))]
    if args.compress:
        results.append(asyncio.run(measure(args.events, True)))
    for result in results:
        print(json.dumps(result))
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "bluesky.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0 if all(r["events_per_second"] >= TARGET for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
