"""Bench posts: the bundled demo stream, repeated under fresh ids, and the messages it makes."""

from __future__ import annotations

import copy
import json
from importlib import resources
from pathlib import Path
from typing import Any

from server import protocol
from server.sources.x.normalise import normalise_stream_item

FIRST_ID = 1_700_000_000_000_000_000


def demo_items() -> list[dict[str, Any]]:
    """The stream items of the bundled demo stream."""
    text = resources.files("server.demo").joinpath("demo_stream.jsonl").read_text("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def stream_items(count: int, originals_only: bool = False) -> list[dict[str, Any]]:
    """`count` stream items cycled from the demo stream, each under an id of its own.

    Retweets keep pointing at their originals, as on a real stream where many people
    retweet the same post; `originals_only` keeps the posts a moderator approves one by one.
    """
    source = demo_items()
    if originals_only:
        source = [item for item in source if "referenced_tweets" not in item["data"]]
    items = []
    for n in range(count):
        item = copy.deepcopy(source[n % len(source)])
        native = str(FIRST_ID + n)
        item["data"]["id"] = native
        item["data"]["conversation_id"] = native
        item["data"]["edit_history_tweet_ids"] = [native]
        items.append(item)
    return items


def write_replay(path: Path, items: list[dict[str, Any]]) -> list[str]:
    """Write a replay file; return the post ids it queues, in order."""
    with path.open("w", encoding="utf-8") as file:
        for item in items:
            file.write(json.dumps(item, ensure_ascii=False) + "\n")
    return [f"x:{item['data']['id']}" for item in items]


def shown_message(seq: int = 1) -> str:
    """A typical `post.shown` message as hashwall encodes it (the mean size of the originals
    the bench approves): what the baselines broadcast."""
    messages = []
    for item in demo_items():
        if "referenced_tweets" in item["data"]:
            continue
        post = normalise_stream_item(item)
        messages.append(protocol.encode({"type": protocol.MessageType.POST_SHOWN, "seq": seq,
                                         "post": post.to_dict()}))
    mean = sum(len(m.encode()) for m in messages) / len(messages)
    return min(messages, key=lambda m: abs(len(m.encode()) - mean))
