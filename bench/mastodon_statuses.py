"""Mastodon statuses for the ingest bench: the recorded public statuses, again and again,
each copy with its own id and uri so that every one is a new post."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from bench.targets import ROOT

RECORDED = ROOT / "tests" / "fixtures" / "mastodon" / "rtoot_real_statuses.jsonl"


def statuses(count: int) -> list[dict[str, Any]]:
    """`count` statuses cycled from the recordings (every visibility, boosts, edits kept)."""
    recorded = [json.loads(line) for line in RECORDED.read_text(encoding="utf-8").split("\n")
                if line.strip()]
    out = []
    for n in range(count):
        status = copy.deepcopy(recorded[n % len(recorded)])
        status["id"] = str(113_000_000_000_000_000 + n)
        status["uri"] = f"{status['uri']}?copy={n}"  # a new post, not the recorded one again
        out.append(status)
    return out


def write(file: Path, count: int) -> None:
    """One status JSON a line, as a stream's `update` payloads."""
    with file.open("w", encoding="utf-8") as out:
        for status in statuses(count):
            out.write(json.dumps(status) + "\n")  # ASCII: no U+2028 to split a line
