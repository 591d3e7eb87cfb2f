"""Faithful fakes of a Jetstream v1 host and of the public AppView, and the Bluesky events
they serve: the recorded corpus and the hand-written hashtag events."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import zstandard

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "bluesky"
CORPUS = FIXTURES / "jetstream_v1_corpus.jsonl"
WRITTEN = FIXTURES / "written_events.jsonl"


def event_lines(path: Path) -> list[bytes]:
    """The events of one JSONL file, each as the exact bytes a Jetstream sends."""
    return [line for line in path.read_bytes().splitlines() if line.strip()]


def corpus() -> list[bytes]:
    """The 152 recorded events."""
    return event_lines(CORPUS)


def written() -> list[bytes]:
    """The hand-written hashtag events (not recorded)."""
    return event_lines(WRITTEN)


def did_docs() -> dict[str, Any]:
    """The recorded DID documents by DID."""
    raw = zstandard.ZstdDecompressor().decompressobj().decompress(
        (FIXTURES / "did_docs.json.zst").read_bytes())
    docs: dict[str, Any] = json.loads(raw)
    return docs


def written_profiles() -> dict[str, Any]:
    """The hand-written profiles of the hand-written events' authors."""
    profiles: dict[str, Any] = json.loads(
        (FIXTURES / "written_profiles.json").read_text(encoding="utf-8"))
    return profiles
