"""Phones posting to the wall while it runs: how much they add to approve-to-screen latency.

python -m bench.onsite [--smoke] [--out FILE]

With `screens` sockets on /ws and tracers measuring approve → screen, each run approves
`approvals` posts at `rate` per second twice: quiet, then while `phones` phones post at
once (every other one with a photo of `photo_size` pixels, as a phone camera takes it).
The difference of the p99s is what posting from phones costs the room.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import logging
import os
import secrets
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench import posts
from bench.hashwall_target import Hashwall
from bench.latency import latency_run
from bench.load import Load
from bench.procstat import pin, plan_cores, raise_nofile
from bench.stats import percentile
from bench.tracers import Tracers

logger = logging.getLogger("bench.onsite")


@dataclass(frozen=True)
class OnsitePlan:
    """Sizes of one run."""

    name: str
    screens: int
    tracers: int
    phones: int
    approvals: int
    rate: float
    runs: int
    photo_size: tuple[int, int]


FULL = OnsitePlan("full", screens=1000, tracers=20, phones=200, approvals=20, rate=2.0,
                  runs=3, photo_size=(4032, 3024))
SMOKE = OnsitePlan("smoke", screens=50, tracers=3, phones=10, approvals=5, rate=5.0, runs=1,
                   photo_size=(1200, 900))


def camera_photo(size: tuple[int, int]) -> bytes:
    """A JPEG of a phone camera's size with noise in it, so it weighs what photos weigh."""
    from PIL import Image

    noise = Image.effect_noise(size, 40)
    gradient = Image.linear_gradient("L").resize(size)
    image = Image.merge("RGB", (noise, gradient, noise))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


async def phones_post(base: str, phones: int, photo: bytes) -> dict[str, Any]:
    """`phones` phones posting at once, every other one with `photo`; what they were told."""
    codes: dict[str, int] = {}
    took: list[float] = []

    async def one(n: int) -> None:
        async with httpx.AsyncClient(base_url=base, timeout=120) as phone:
            # A form whose photo was left empty still sends the (empty) part.
            part = ("photo.jpg", photo, "image/jpeg") if n % 2 else ("", b"", "image/jpeg")
            files = {"photo": part}
            started = time.monotonic()
            answer = await phone.post(
                "/api/submissions", data={"name": f"Phone {n}", "text": f"Question {n} ?"},
                files=files, headers={"Idempotency-Key": secrets.token_urlsafe(16)})
            took.append((time.monotonic() - started) * 1000)
            codes[str(answer.status_code)] = codes.get(str(answer.status_code), 0) + 1

    started = time.monotonic()
    await asyncio.gather(*(one(n) for n in range(phones)))
    return {"answers": codes, "seconds": round(time.monotonic() - started, 2),
            "p50_ms": round(percentile(took, 50), 1), "p99_ms": round(percentile(took, 99), 1),
            "photos": phones // 2, "photo_bytes": len(photo)}


async def phones_process(base: str, phones: int, photo: Path) -> dict[str, Any]:
    """`phones_post` in a subprocess (on the load's core, as the tracers); what it measured."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.onsite", "--phones", base, str(phones), str(photo),
        stdout=asyncio.subprocess.PIPE)
    out, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"the phones' process failed with code {process.returncode}")
    result: dict[str, Any] = json.loads(out)
    return result


async def measure(plan: OnsitePlan, folder: Path) -> dict[str, Any]:
    """Quiet and busy latency runs against `hashwall serve` on SQLite."""
    server_core, load_core = plan_cores()
    pin(0, load_core)
    raise_nofile()
    replay = folder / "approvals-onsite.jsonl"
    items = posts.stream_items(plan.approvals * plan.runs * 2 + 50, originals_only=True)
    post_ids = posts.write_replay(replay, items)
    target = Hashwall(folder, server_core, f"sqlite:///{folder / 'onsite.sqlite3'}", replay,
                      post_ids, "hashwall-sqlite", onsite_posts="true",
                      onsite_device_posts="100000", onsite_address_posts="100000",
                      onsite_device_photos="100000", onsite_address_photos="100000")
    photo_file = folder / "camera.jpg"
    photo_file.write_bytes(await asyncio.to_thread(camera_photo, plan.photo_size))
    load = Load(load_core)
    await load.start()
    runs: list[dict[str, Any]] = []
    try:
        await target.start()
        await load.connect(target.port, plan.screens - plan.tracers, greeting=True)
        tracers = Tracers(f"ws://127.0.0.1:{target.port}/ws", plan.tracers)
        await tracers.start()
        try:
            for _ in range(plan.runs):
                quiet = await latency_run(target, tracers, plan.approvals, plan.rate)
                # In their own process: the tracers' readings must not wait for the phones.
                phoning = asyncio.create_task(phones_process(
                    f"http://127.0.0.1:{target.port}", plan.phones, photo_file))
                busy = await latency_run(target, tracers, plan.approvals, plan.rate)
                phones = await phoning
                runs.append({"quiet": quiet, "busy": busy, "phones": phones,
                             "added_p99_ms": round(busy["p99"] - quiet["p99"], 1),
                             # The machine's load: other work on shared cores shows here.
                             "load_average": round(os.getloadavg()[0], 1)})
                logger.info("p99 quiet %.1f ms, with phones %.1f ms; phones: %s",
                            quiet["p99"], busy["p99"], phones)
        finally:
            await tracers.stop()
    finally:
        await load.close()
        await load.stop()
        await target.stop()
    return {"plan": plan.name, "screens": plan.screens, "phones": plan.phones,
            "approvals": plan.approvals, "rate": plan.rate, "runs": runs,
            "worst_added_p99_ms": max(r["added_p99_ms"] for r in runs)}


def markdown(result: dict[str, Any]) -> str:
    """The figures as a Markdown table."""
    lines = [f"## Phones posting ({result['screens']} screens, {result['phones']} phones at "
             f"once, half with a photo)", "",
             "| run | p99 quiet (ms) | p99 with phones (ms) | added (ms) | phones answered | "
             "phones' p99 (ms) | seconds | load average |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for n, run in enumerate(result["runs"], 1):
        lines.append(f"| {n} | {run['quiet']['p99']:.1f} | {run['busy']['p99']:.1f} | "
                     f"{run['added_p99_ms']:.1f} | {run['phones']['answers']} | "
                     f"{run['phones']['p99_ms']:.0f} | {run['phones']['seconds']} | "
                     f"{run['load_average']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="a small, quick run")
    parser.add_argument("--out", type=Path, default=Path("bench/results/onsite.json"))
    parser.add_argument("--phones", nargs=3, metavar=("URL", "N", "PHOTO"),
                        help="(internal) post as N phones to URL and print what they got")
    args = parser.parse_args(argv)
    if args.phones:
        base, count, photo = args.phones
        print(json.dumps(asyncio.run(phones_post(base, int(count), Path(photo).read_bytes()))))
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    work = args.out.parent / "work-onsite"
    work.mkdir(exist_ok=True)
    for old in work.glob("onsite.sqlite3*"):  # a fresh queue for every run
        old.unlink()
    result = asyncio.run(measure(SMOKE if args.smoke else FULL, work))
    args.out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
