"""Medians with their spread, percentiles and ratios, as the report shows them."""

from __future__ import annotations

import math
import statistics
from typing import Any


def percentile(values: list[float], pct: float) -> float:
    """The `pct` percentile by the nearest-rank method (no interpolation past the data)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def summary(values: list[float]) -> dict[str, Any]:
    """Median, min and max of several runs, and the runs themselves."""
    if not values:
        return {"median": math.nan, "min": math.nan, "max": math.nan, "runs": []}
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "runs": list(values)}


def ratio(a: dict[str, Any], b: dict[str, Any]) -> float:
    """The ratio of two medians."""
    if not b["median"]:
        return math.nan
    return float(a["median"] / b["median"])


def show(s: dict[str, Any], digits: int = 1, unit: str = "") -> str:
    """`median (min–max)` for a table cell."""
    if not s["runs"]:
        return "—"
    if len(s["runs"]) == 1:
        return f"{s['median']:.{digits}f}{unit}"
    return f"{s['median']:.{digits}f}{unit} ({s['min']:.{digits}f}–{s['max']:.{digits}f})"
