"""Every moderator command, shared by the HTTP endpoints and the moderator websocket."""

from __future__ import annotations

import dataclasses
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from moderation.claims import DEFAULT_BATCH, check_size
from moderation.exceptions import InvalidAction
from moderation.post import Status
from moderation.queue import Action
from moderation.ruleset_config import rules_from_dict, rules_to_dict
from moderation.wall_state import Mode, make_announcement
from moderation.wire import MessageType
from server import theme
from server.metrics import count_decision
from server.state import Wall

# How long an announcement may be set to stay, in seconds (unset: until hidden or replaced).
ANNOUNCEMENT_SECONDS = (10, 86_400)

Command = Callable[[Wall, str, dict[str, Any]], Awaitable[dict[str, Any]]]


def client_ref(message: dict[str, Any]) -> str | None:
    """The idempotency key of a message: its `ref` when that is a string (numbers only echo)."""
    ref = message.get("ref")
    if isinstance(ref, str) and 0 < len(ref) <= 100:
        return ref
    return None


def _repeat(repeat: bool) -> dict[str, bool]:
    """`{"repeat": true}` on the answer to a message already applied, else nothing."""
    return {"repeat": True} if repeat else {}


def _post_id(message: dict[str, Any]) -> str:
    post_id = message.get("id")
    if not isinstance(post_id, str) or not post_id:
        raise InvalidAction(f"expected a post id, got {post_id!r}")
    return post_id


async def decide(wall: Wall, moderator: str, message: dict[str, Any]) -> dict[str, Any]:
    """Approve, reject or hide one post; with `expected`, only if it still has that status."""
    post_id = _post_id(message)
    action = message.get("action")
    if not isinstance(action, str):
        raise InvalidAction(f"expected an action name, got {action!r}")
    parsed = Action.parse(action)
    expected, expected_status = message.get("expected"), None
    if expected is not None:
        try:
            expected_status = Status(expected)
        except ValueError:
            raise InvalidAction(f"expected a status to compare with, got {expected!r}") from None
    decision = await wall.store.decide(post_id, parsed, moderator, expected_status,
                                       client_ref(message))
    if not decision.repeat:
        count_decision(decision.action.value)
    return {"id": decision.post_id, "action": decision.action.value,
            "status": decision.after.value, **_repeat(decision.repeat)}


async def undo(wall: Wall, moderator: str, message: dict[str, Any]) -> dict[str, Any]:
    """Undo this moderator's newest decision."""
    decision = await wall.store.undo(moderator, client_ref(message))
    return {"id": decision.post_id, "undone": decision.action.value,
            "status": decision.after.value, **_repeat(decision.repeat)}


async def pin(wall: Wall, moderator: str, message: dict[str, Any]) -> dict[str, Any]:
    """Pin an approved post on the wall."""
    post_id = _post_id(message)
    changed = await wall.store.pin(post_id, moderator)
    return {"id": post_id, "pinned": True, "changed": changed}


async def unpin(wall: Wall, moderator: str, message: dict[str, Any]) -> dict[str, Any]:
    """Empty the wall's featured place."""
    return {"id": await wall.store.unpin(moderator), "pinned": False}


async def announce(wall: Wall, moderator: str, message: dict[str, Any]) -> dict[str, Any]:
    """Show a moderator's announcement on the wall; the same `ref` never shows it twice."""
    key = client_ref(message) or secrets.token_hex(8)
    created_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    post = make_announcement(message.get("text"), key, wall.settings.event_title, created_at)
    duration = message.get("duration")
    if duration is not None:
        if not isinstance(duration, int) or isinstance(duration, bool) or not (
                ANNOUNCEMENT_SECONDS[0] <= duration <= ANNOUNCEMENT_SECONDS[1]):
            raise InvalidAction("expected duration to be whole seconds from "
                                f"{ANNOUNCEMENT_SECONDS[0]} to {ANNOUNCEMENT_SECONDS[1]},"
                                f" got {duration!r}")
        # Screens take the announcement down once created_at + duration has passed.
        post = dataclasses.replace(post, extra={"duration": duration})
    item, created = await wall.store.announce(post, moderator)
    return {"id": item.post.id, "status": item.status.value, **_repeat(not created)}


async def pause(wall: Wall, moderator: str, message: dict[str, Any]) -> dict[str, Any]:
    """Pause the wall: screens keep what they show and take nothing new."""
    return {"paused": True, "changed": await wall.store.set_paused(True, moderator)}


async def resume(wall: Wall, moderator: str, message: dict[str, Any]) -> dict[str, Any]:
    """Resume the wall."""
    return {"paused": False, "changed": await wall.store.set_paused(False, moderator)}


async def mode(wall: Wall, moderator: str, message: dict[str, Any]) -> dict[str, Any]:
    """Switch pre- or post-moderation."""
    parsed = Mode.parse(message.get("mode"))
    return {"mode": parsed.value, "changed": await wall.store.set_mode(parsed, moderator)}


async def claim(wall: Wall, moderator: str, message: dict[str, Any]) -> dict[str, Any]:
    """Take a batch of pending posts so that colleagues review other ones."""
    size = check_size(message.get("size", DEFAULT_BATCH))
    ttl = wall.settings.claim_timeout
    ids = await wall.store.claim(moderator, size, ttl)
    return {"ids": ids, "until": time.time() + ttl}


async def release(wall: Wall, moderator: str, message: dict[str, Any]) -> dict[str, Any]:
    """Give this moderator's batch back to the pool."""
    return {"ids": await wall.store.release(moderator)}


async def put_rules(wall: Wall, moderator: str, message: dict[str, Any]) -> dict[str, Any]:
    """Replace some or all of the rules in force; the rest keep their value."""
    current = await wall.pipeline.current_rules()
    rules = rules_from_dict(message.get("rules"), current)
    data = rules_to_dict(rules)
    await wall.store.put_rules(data, moderator)
    return {"rules": data}


COMMANDS: dict[str, Command] = {
    MessageType.DECIDE: decide, MessageType.UNDO: undo, MessageType.PIN: pin,
    MessageType.UNPIN: unpin, MessageType.ANNOUNCE: announce, MessageType.PAUSE: pause,
    MessageType.RESUME: resume, MessageType.MODE: mode, MessageType.CLAIM: claim,
    MessageType.RELEASE: release, MessageType.RULES: put_rules,
    MessageType.THEME: theme.switch,
}


async def run(wall: Wall, moderator: str, message: dict[str, Any]) -> dict[str, Any]:
    """Run the command named by the message's `type`; `ModerationError` when refused."""
    name = message.get("type")
    command = COMMANDS.get(name) if isinstance(name, str) else None
    if command is None:
        raise InvalidAction(f"expected a message type among {', '.join(COMMANDS)}, got {name!r}")
    return await command(wall, moderator, message)
