"""The bench report: figures with their spread and ratios, and whether each target is met."""

from __future__ import annotations

from typing import Any

from bench.stats import ratio, show, summary

# The targets of the bench (docs/benchmarks.md).
MAX_RATIO_TO_B1 = 1.5
MAX_P99_MS = 250.0
MAX_IDLE_BYTES = 20 * 1024
MIN_POSTS_PER_SECOND = 2000.0
MAX_P99_MOVE = 1.5
KIB = 1024


def _mark(ok: bool) -> str:
    return "✅ met" if ok else "❌ missed"


def _hashwall_labels(results: dict[str, Any], key: str) -> list[str]:
    return [label for label in results.get(key, {}) if label.startswith("hashwall")]


def fan_out(results: dict[str, Any]) -> list[str]:
    """Fan-out cost per client per post, with ratios to both baselines."""
    cost = results.get("fan_out")
    if not cost:
        return []
    lines = ["## Fan-out cost", "",
             "Server CPU µs per client per post (median of runs, min–max); ratios of medians.",
             "", "| server | clients | µs/client/post | × B1 | × B0 | target ≤ 1.5× B1 |",
             "| --- | ---: | ---: | ---: | ---: | --- |"]
    for label, points in cost.items():
        for size, point in points.items():
            s = summary(point["runs"])
            cells = [label, size, show(s, 2)]
            if label.startswith("hashwall"):
                to_b1 = ratio(s, summary(cost["B1"][size]["runs"])) if "B1" in cost else None
                to_b0 = ratio(s, summary(cost["B0"][size]["runs"])) if "B0" in cost else None
                cells += [f"{to_b1:.2f}" if to_b1 else "—", f"{to_b0:.2f}" if to_b0 else "—",
                          _mark(to_b1 is not None and to_b1 <= MAX_RATIO_TO_B1)]
            else:
                cells += ["", "", ""]
            lines.append("| " + " | ".join(cells) + " |")
    retried = [f"{label} {point['retried']} of {point['clients']}"
               for label, points in cost.items() for point in points.values()
               if point.get("retried")]
    if retried:
        lines += ["", "Handshakes that failed and were tried again (as a phone reconnects): "
                  + "; ".join(retried) + "."]
    return [*lines, ""]


def latency(results: dict[str, Any], clients: int | None) -> list[str]:
    """Approve-to-screen p50 and p99."""
    runs_by_target = results.get("latency")
    if not runs_by_target:
        return []
    lines = ["## Approve-to-screen latency", "",
             f"From the approve request to arrival at tracer screens, {clients} clients "
             "connected (median of runs, min–max).", "",
             "| server | approvals/s | p50 ms | p99 ms | max ms | target p99 ≤ 250 ms |",
             "| --- | ---: | ---: | ---: | ---: | --- |"]
    for label, runs in runs_by_target.items():
        p50 = summary([r["p50"] for r in runs])
        p99 = summary([r["p99"] for r in runs])
        worst = max(r["max"] for r in runs)
        lines.append(f"| {label} | {runs[0]['rate']:g} | {show(p50)} | {show(p99)} | "
                     f"{worst:.0f} | {_mark(p99['median'] <= MAX_P99_MS)} |")
    return [*lines, ""]


def idle(results: dict[str, Any]) -> list[str]:
    """Memory per idle connection and the most reached."""
    data = results.get("idle")
    if not data:
        return []
    lines = ["## Idle connections", "",
             f"RSS difference over the idle sockets; the open-file limit is {data['limit']}.",
             "", "| server | sockets | KiB per socket | most reached | target ≤ 20 KiB |",
             "| --- | ---: | ---: | ---: | --- |"]
    for label, result in data["targets"].items():
        first = result["points"][0]
        per = first["bytes_per_client"]
        mark = _mark(per <= MAX_IDLE_BYTES) if label.startswith("hashwall") else ""
        lines.append(f"| {label} | {first['open']} | {per / KIB:.1f} | "
                     f"{result['most_reached']} | {mark} |")
    return [*lines, ""]


def ingest(results: dict[str, Any]) -> list[str]:
    """Posts per second through normalisation and rules into the queue."""
    data = results.get("ingest")
    if not data:
        return []
    lines = ["## Ingest", "",
             f"{data['items']} stream items per run through normalisation and rules into "
             "the queue (median of runs, min–max).", "",
             "| source → store | posts/s | target ≥ 2,000 |", "| --- | ---: | --- |"]
    for source, runs in data["sources"].items():
        s = summary([r["posts_per_second"] for r in runs])
        lines.append(f"| {source} | {show(s, 0)} | {_mark(s['median'] >= MIN_POSTS_PER_SECOND)} |")
    if not any(source.startswith("x-") for source in data["sources"]):
        lines.append("")
        lines.append("The fake X server was not available: replay file only.")
    return [*lines, ""]


def slow_client(results: dict[str, Any]) -> list[str]:
    """Healthy p99 with and without a stalled socket, the drop, and memory."""
    data = results.get("slow_client")
    if not data:
        return []
    lines = ["## Slow client", "",
             f"One socket stops reading beside {data['healthy']} healthy ones "
             f"(queue {data['queue_size']} messages).", "",
             "| run | healthy p99 before | p99 while stalled | × | dropped | posts until "
             "dropped | socket released | RSS growth peak | RSS after drop |",
             "| ---: | ---: | ---: | ---: | --- | ---: | --- | ---: | ---: |"]
    for n, run in enumerate(data["runs"], start=1):
        move = run["stalled_p99"] / run["control_p99"]
        lines.append(
            f"| {n} | {run['control_p99']:.0f} ms | {run['stalled_p99']:.0f} ms | {move:.2f} | "
            f"{'yes' if run['dropped'] else 'no'} | {run['posts_until_dropped']} | "
            f"{'yes' if run['released'] else 'no'} | "
            f"{(run['rss_peak'] - run['rss_before']) / KIB:.0f} KiB | "
            f"{(run['rss_after'] - run['rss_before']) / KIB:.0f} KiB |")
    moves = summary([r["stalled_p99"] / r["control_p99"] for r in data["runs"]])
    dropped = all(r["dropped"] and r["released"] for r in data["runs"])
    lines += ["", f"Healthy p99 while stalled / before: {show(moves, 2)} "
              f"({_mark(moves['median'] <= MAX_P99_MOVE)}, ≤ {MAX_P99_MOVE}×); "
              f"stalled socket dropped and released by the server in every run: "
              f"{_mark(dropped)}.", ""]
    return lines


def markdown(results: dict[str, Any]) -> str:
    """The whole report as Markdown."""
    run = results.get("run", {})
    cores = run.get("cores", {})
    head = [
        "# hashwall bench report", "",
        f"Plan `{run.get('plan')}`, {run.get('started')}, {run.get('seconds')} s; Python "
        f"{run.get('python')} on {run.get('machine')} (Linux {run.get('kernel')}); server on "
        f"core {cores.get('server')}, load on core {cores.get('load')}; open-file limit "
        f"{run.get('open_file_limit')}; Redis mode {'on' if run.get('redis') else 'off'}.", "",
    ]
    latency_clients = None
    if results.get("latency"):
        latency_clients = results.get("latency_clients")
    errors = [f"- **{label}** failed: {error}" for label, error in
              results.get("errors", {}).items()]
    if errors:
        head += ["## Errors", "", *errors, ""]
    body = (fan_out(results) + latency(results, latency_clients) + idle(results)
            + slow_client(results) + ingest(results))
    return "\n".join(head + body)
