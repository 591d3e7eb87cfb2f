"""What a moderator console starts from, and which moderators have a console open."""

from __future__ import annotations

from collections import Counter
from typing import Any

from moderation.post import Status
from moderation.ruleset_config import rules_to_dict
from server import protocol
from server.state import Wall

PENDING_SHOWN = 500
APPROVED_SHOWN = 60
RECENT_DECISIONS = 40


def presence(app: Any) -> Counter[str]:
    """Open moderator sockets per moderator name, in this process."""
    wall: Wall = app.state.wall
    return wall.moderators_present


async def console_snapshot(wall: Wall, moderator: str) -> tuple[int, dict[str, Any]]:
    """The moderation sequence number and the `queue.snapshot` message as of it."""
    store = wall.store
    seq = await store.last_seq(wall.moderation.channel)
    pending = await store.list_items(Status.PENDING, PENDING_SHOWN)
    approved = await store.list_items(Status.APPROVED, APPROVED_SHOWN)
    counts = {s.value: await store.count(s) for s in Status}
    state = await store.wall_state()
    pinned = await store.get(state.pinned) if state.pinned else None
    recent = await store.audit(RECENT_DECISIONS)
    rules = await wall.pipeline.current_rules()
    return seq, protocol.queue_snapshot(
        seq, pending, counts,
        approved=[item.to_dict() for item in approved],
        wall={**state.to_dict(), "pinned_post": pinned.post.to_dict() if pinned else None},
        recent=[entry.to_dict() for entry in recent],
        rules=rules_to_dict(rules),
        moderator=moderator,
        claim_timeout=wall.settings.claim_timeout,
        sources={source.name: source.health() for source in wall.sources},
        notices=wall.notices(),
    )
