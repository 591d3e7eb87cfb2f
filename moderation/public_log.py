"""What the public event log may tell a screen now: never the content of a post that is not
approved at the time it is read."""

from __future__ import annotations

from collections.abc import Collection

from moderation.queue import Event
from moderation.wire import MessageType

# The public events that carry a post's content, under this key of their data.
CARRIERS: dict[str, str] = {MessageType.POST_SHOWN: "post", MessageType.POST_PINNED: "post"}
RETRACTED = MessageType.POST_RETRACTED


def carried(event: Event) -> str | None:
    """The id of the post whose content `event` carries, or None."""
    key = CARRIERS.get(event.type)
    if key is None:
        return None
    post = event.data.get(key)
    return str(post["id"]) if isinstance(post, dict) and "id" in post else None


def redact(events: list[Event], approved: Collection[str]) -> list[Event]:
    """The events as a screen may see them: an event carrying a post not in `approved`
    becomes a retraction of that post (its id only), at the same sequence number."""
    out = []
    for event in events:
        post_id = carried(event)
        if post_id is None or post_id in approved:
            out.append(event)
        else:
            out.append(Event(event.seq, RETRACTED, {"id": post_id}))
    return out
