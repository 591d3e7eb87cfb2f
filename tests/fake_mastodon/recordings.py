"""The real Mastodon statuses recorded in tests/fixtures/mastodon, as the fake server serves
them."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mastodon"
STATUS_FILES = (
    "rtoot_real_statuses.jsonl",
    "mastodonpy_real_instances_statuses.jsonl",
    "mastodonpy_devserver_statuses.jsonl",
)
SSE_FILES = tuple(sorted((FIXTURES / "sse").glob("*.sse")))


def recorded_statuses(name: str | None = None) -> list[dict[str, Any]]:
    """Every recorded status (of one file, or of all of them), in recording order."""
    statuses = []
    for file in (name,) if name else STATUS_FILES:
        for line in (FIXTURES / file).read_text(encoding="utf-8").split("\n"):
            if line.strip():
                statuses.append(json.loads(line))
    return statuses


def unique_statuses(name: str | None = None) -> list[dict[str, Any]]:
    """The recorded statuses, one per `uri` (the recordings list some statuses twice)."""
    seen: dict[str, dict[str, Any]] = {}
    for status in recorded_statuses(name):
        seen.setdefault(status["uri"], status)
    return list(seen.values())


def tagged(status: dict[str, Any], tag: str, server: str) -> dict[str, Any]:
    """A copy of a recorded status carrying one more hashtag, `tag`.

    The recordings are about other hashtags (#rstats, #IchbinHanna…): to replay them on an
    event's hashtag timeline, this ADDS the event's tag to the `tags` list and appends a
    hashtag link to the HTML content, as Mastodon renders one. Everything else is recorded.
    """
    copied = copy.deepcopy(status)
    target = copied["reblog"] if isinstance(copied.get("reblog"), dict) else copied
    name = tag.lstrip("#")
    if not any(t.get("name", "").casefold() == name.casefold() for t in target["tags"]):
        target["tags"].append({"name": name.lower(), "url": f"{server}/tags/{name.lower()}"})
        target["content"] += (
            f'<p><a href="{server}/tags/{name.lower()}" class="mention hashtag" rel="tag">'
            f"#<span>{name}</span></a></p>"
        )
    return copied


def sse_recording(name: str) -> bytes:
    """One raw `text/event-stream` body recorded from a real streaming server."""
    return (FIXTURES / "sse" / name).read_bytes()
