"""The screens' colour theme: chosen by HASHWALL_THEME, switched live by moderators."""

from __future__ import annotations

import logging
from typing import Any

from moderation.exceptions import InvalidAction
from moderation.wire import MessageType
from server import protocol
from server.settings import Theme
from server.state import Wall

logger = logging.getLogger(__name__)

# Kept with the sources' cursors: a small persisted value every process reads.
KEY = ("wall", "theme")


async def current(wall: Wall) -> str:
    """The theme in force: the last one a moderator chose, else the setting."""
    stored = await wall.store.get_cursor(*KEY)
    return stored if stored in {t.value for t in Theme} else wall.settings.theme.value


async def switch(wall: Wall, moderator: str, message: dict[str, Any]) -> dict[str, Any]:
    """The `theme` command: persist the theme and tell every screen of this process now;
    screens of other web processes take it at their next load of /api/config."""
    value = message.get("theme")
    names = [t.value for t in Theme]
    if value not in names:
        raise InvalidAction(f"expected theme to be one of {', '.join(names)}, got {value!r}")
    await wall.store.set_cursor(*KEY, value)
    text = protocol.encode({"type": MessageType.WALL_THEME, "theme": value})
    for hub in (wall.public, wall.moderation):
        hub.publish(0, text)  # 0: not a stored event, never skipped as already seen
    logger.info("%s switched the screens to the %s theme", moderator, value)
    return {"theme": value}
