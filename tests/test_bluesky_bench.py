"""A small run of the Bluesky ingest bench, so that `make bench` never rots."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_bluesky_bench_reads_matches_and_normalises(tmp_path: Path) -> None:
    """`python -m bench.bluesky` handles every event, offering the tagged posts, compressed
    or not, and writes its figures."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.bluesky", "--events", "3000", "--compress",
         "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=100)
    results = json.loads((tmp_path / "bluesky.json").read_text(encoding="utf-8"))
    assert [r["compressed"] for r in results] == [False, True], done.stderr[-2000:]
    for result in results:
        assert result["events"] == 3000
        assert result["matched"] > 0 and result["offered"] > 0 and result["retracted"] > 0
        assert result["events_per_second"] > 0
