"""The replay source: any network's native items, through that network's normaliser."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from moderation.exceptions import MalformedPayload
from moderation.post import Author, Post
from server.sources import replay
from server.sources.replay import ReplaySource
from tests.fake_x import make_item


def toy_normalise(item: Any) -> Post | None:
    """A network whose items are {"n": number}; {"skip": true} is not a post."""
    if not isinstance(item, dict) or item.get("skip"):
        return None
    if "n" not in item:
        raise MalformedPayload(f"expected an object with n, got {item!r}")
    return Post(id=f"toy:{item['n']}", network="toy", author=Author("1", "ada", "Ada"),
                text=f"toy {item['n']}", created_at="2026-12-04T12:00:00.000Z")


class Offered:
    """The posts a replay hands on."""

    def __init__(self) -> None:
        self.posts: list[Post] = []

    async def __call__(self, post: Post) -> None:
        self.posts.append(post)


async def replayed(path: Path) -> tuple[ReplaySource, list[str]]:
    offered = Offered()
    source = ReplaySource(path, offered, speed=0)
    await source.start()
    await asyncio.wait_for(source.done.wait(), 10)
    await source.stop()
    return source, [p.id for p in offered.posts]


async def test_header_names_the_network_and_items_may_name_their_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A header names the file's network; a wrapped item names its own; unknown ones are
    reported by line."""
    monkeypatch.setitem(replay.NORMALISERS, "toy", f"{__name__}:toy_normalise")
    x_item = make_item("Bonjour #uemedef14", post_id="1600000000000000001")
    lines = [{"hashwall_replay": 1, "network": "toy"}, {"n": 1}, {"skip": True},
             {"network": "x", "item": x_item}, {"network": "nope", "item": {}}, {"m": 2},
             {"n": 3}]
    path = tmp_path / "toy.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    source, ids = await replayed(path)
    assert ids == ["toy:1", "x:1600000000000000001", "toy:3"]
    health = source.health()
    assert health["state"] == "finished" and health["posts"] == 3 and health["errors"] == 2
    assert health["items_received"] == 6 and health["last_item_at"] is not None
    assert ("line 5: skipped, expected a network among bluesky, toy, x, got 'nope'"
            in source.errors[0])
    assert "line 6" in source.errors[1]


async def test_a_file_without_header_is_x(tmp_path: Path) -> None:
    """Without a header or wrapper, items are X API v2 stream items (the demo's format)."""
    path = tmp_path / "x.jsonl"
    path.write_text(json.dumps(make_item("Salut #uemedef14", post_id="1600000000000000002")),
                    encoding="utf-8")
    _source, ids = await replayed(path)
    assert ids == ["x:1600000000000000002"]
