"""A small run of bench/onsite.py, so that it never rots; no figure is judged here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_smoke_run_measures_phones_posting(tmp_path: Path) -> None:
    """`python -m bench.onsite --smoke` measures quiet and busy runs; every phone is answered."""
    out = tmp_path / "onsite.json"
    done = subprocess.run([sys.executable, "-m", "bench.onsite", "--smoke", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=110)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text(encoding="utf-8"))
    [run] = result["runs"]
    assert run["phones"]["answers"] == {"202": 10}
    assert run["quiet"]["samples"] == run["busy"]["samples"] == 15
    assert "## Phones posting" in done.stdout
