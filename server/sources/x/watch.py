"""Every web process watches X's monthly read count in the store and tells the moderators'
consoles when it passes the warning share or the budget, wherever the X source runs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from moderation.store import Store
from moderation.wire import MessageType
from server import protocol
from server.fanout import Hub
from server.periodic import Periodic
from server.sources.x.budget import EXHAUSTED, OK, Reading, counter_name

logger = logging.getLogger(__name__)


def notice(reading: Reading) -> dict[str, Any]:
    """The `source.notice` message of a reading past the warning share."""
    return {"type": MessageType.SOURCE_NOTICE, "source": "x",
            "level": "error" if reading.state == EXHAUSTED else "warning",
            "message": reading.reason(), "read_budget": reading.to_dict()}


class BudgetWatch(Periodic):
    """Reads the month's X read count every `interval` seconds; on reaching the warning
    share, then the budget, sends one `source.notice` to the consoles and logs it. The
    latest notice is kept (`latest`) for the consoles that connect later."""

    name = "x-budget-watch"

    def __init__(self, store: Store, hub: Hub, budget: int, price: float, interval: float,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        super().__init__(interval)
        self.store = store
        self.hub = hub
        self.budget = budget
        self.price = price
        self.now = now
        self.state = OK
        self.latest: dict[str, Any] | None = None

    async def tick(self) -> None:
        name = counter_name(self.now())
        reading = Reading(name.removeprefix("x.reads."), await self.store.get_count(name),
                          self.budget, self.price)
        if reading.state == self.state:
            return
        self.state = reading.state
        if reading.state == OK:
            self.latest = None  # a new month, or a larger budget
            return
        self.latest = notice(reading)
        logger.warning("%s", reading.reason())
        self.hub.publish(0, protocol.encode(self.latest))
