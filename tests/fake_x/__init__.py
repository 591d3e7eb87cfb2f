"""A faithful fake of the X API v2 filtered stream, and the recorded payloads it replays."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from server.sources.x.normalise import normalise_lookup_page

# The bearer token the fake server accepts in the tests.
TOKEN = "test-bearer-token"
# The recorded payloads, kept in the repository (see tests/fixtures/x/README.md).
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "x"
STREAM_FILE = "streaming_output_with_error.jsonl"
LOOKUP_FILES = (
    "media_tweet.jsonl",
    "mentions_tweet.jsonl",
    "edited_before.jsonl",
    "edited_after.jsonl",
    "quoted_edit.jsonl",
    "two_tweets.jsonl",
)


def fixture_lines(name: str) -> list[str]:
    """The raw lines of one recorded file, the broken ones included."""
    return (FIXTURES / name).read_text(encoding="utf-8").splitlines()


def load_fixture(name: str) -> list[dict[str, Any]]:
    """The complete JSON lines of one recorded file, without the recorder's `__twarc` key."""
    objects = []
    for line in fixture_lines(name):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            continue  # the recording's last line was cut off by a broken connection
        obj.pop("__twarc", None)
        objects.append(obj)
    return objects


def recorded_stream_items() -> list[dict[str, Any]]:
    """Every complete item recorded from the real filtered stream."""
    return load_fixture(STREAM_FILE)


def recorded_lookup_items(
    name: str, matching_rules: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """One recorded lookup page turned into stream items."""
    items: list[dict[str, Any]] = []
    for page in load_fixture(name):
        items.extend(normalise_lookup_page(page, matching_rules))
    return items


def make_item(
    text: str,
    *,
    post_id: str = "1600000000000000001",
    author: dict[str, Any] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A hand-written stored item whose hashtag and mention entities are found in its text."""
    user = author or {
        "id": "7",
        "name": "Ada Lovelace",
        "username": "ada",
        "verified": False,
        "profile_image_url": "https://pbs.twimg.com/profile_images/7/ada_normal.jpg",
    }
    entities: dict[str, list[dict[str, Any]]] = {}
    for match in re.finditer(r"(?<!\w)([#@])(\w+)", text):
        key, name = ("hashtags", "tag") if match.group(1) == "#" else ("mentions", "username")
        entities.setdefault(key, []).append(
            {"start": match.start(), "end": match.end(), name: match.group(2)}
        )
    data: dict[str, Any] = {
        "id": post_id,
        "text": text,
        "author_id": user["id"],
        "created_at": "2026-08-27T09:00:00.000Z",
        "lang": "fr",
        "edit_history_tweet_ids": [post_id],
        "possibly_sensitive": False,
    }
    if entities:
        data["entities"] = entities
    data.update(fields)
    return {"data": data, "includes": {"users": [user]}}
