"""A small run of the bench, so that `make bench` never rots; no figure is judged here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_smoke_run_measures_every_scenario(tmp_path: Path) -> None:
    """`python -m bench.run --smoke` measures every scenario and writes both reports."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--smoke", "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=100,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert "errors" not in results or set(results["errors"]) <= {"hashwall-redis"}

    cost = results["fan_out"]
    assert {"B0", "B1", "hashwall-sqlite"} <= set(cost)
    for points in cost.values():
        assert [p["clients"] for p in points.values()] == [100, 300]
        assert all(len(p["runs"]) == 2 for p in points.values())

    latency = results["latency"]["hashwall-sqlite"]
    # Every tracer saw every approved post: 3 tracers x 5 approvals.
    assert [run["samples"] for run in latency] == [15]
    assert all(0 < run["p50"] <= run["p99"] <= run["max"] for run in latency)

    idle = results["idle"]["targets"]
    assert {label: r["most_reached"] for label, r in idle.items()} == {
        "B0": 300, "B1": 300, "hashwall-sqlite": 300}

    ingest = results["ingest"]["sources"]
    assert ingest["replay-sqlite"][0]["items"] == 200
    # Timed until every post is in the store: the queue holds them all when the run ends.
    queued = ingest["replay-sqlite"][0]["queued"]
    assert queued > 100
    # The recorded Mastodon statuses, 200 copies: the public ones are queued, the rest not.
    assert ingest["mastodon-sqlite"][0]["items"] == 200
    assert 150 < ingest["mastodon-sqlite"][0]["queued"] < 200
    if "x-sqlite" in ingest:
        assert ingest["x-sqlite"][0]["items"] == 200
        assert ingest["x-sqlite"][0]["queued"] == queued

    slow = results["slow_client"]["runs"]
    # A socket that never reads is dropped however the machine performs.
    assert len(slow) == 1 and slow[0]["dropped"] and slow[0]["control_p99"] > 0

    markdown = (tmp_path / "report.md").read_text(encoding="utf-8")
    for section in ("## Fan-out cost", "## Approve-to-screen latency", "## Idle connections",
                    "## Slow client", "## Ingest"):
        assert section in markdown
