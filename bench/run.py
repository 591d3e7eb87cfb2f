"""`make bench`: every figure of the bench, against baselines measured in the same run.

python -m bench.run [--smoke] [--out DIR] [--only cost,latency,idle,slow,ingest]
writes DIR/report.json and DIR/report.md (DIR defaults to bench/results).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import shutil
import signal
import sys
from pathlib import Path

from bench import report
from bench.plan import FULL, SMOKE
from bench.session import SCENARIOS, Bench
from bench.targets import ROOT


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="a small, quick run")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--only", default=",".join(SCENARIOS),
                        help="comma-separated scenarios: " + ", ".join(SCENARIOS))
    args = parser.parse_args(argv)
    scenarios = {s.strip() for s in args.only.split(",") if s.strip()}
    unknown = scenarios - set(SCENARIOS)
    if unknown:
        parser.error(f"expected scenarios among {', '.join(SCENARIOS)}, got {sorted(unknown)}")
    # A stop (Ctrl-C or SIGTERM) still stops the servers, load and Redis the run started.
    signal.signal(signal.SIGTERM, _interrupt)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    args.out.mkdir(parents=True, exist_ok=True)
    # Logs, stores and files of the run stay beside the report, for a post-mortem.
    work = args.out / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    bench = Bench(SMOKE if args.smoke else FULL, work, scenarios)
    results = asyncio.run(bench.run())
    (args.out / "report.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    (args.out / "report.md").write_text(report.markdown(results), encoding="utf-8")
    print(report.markdown(results))
    print(f"bench: report written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
