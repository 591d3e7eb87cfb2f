"""A heartbeat on every socket, so that pages notice a connection that died silently."""

from __future__ import annotations

from server import protocol
from server.fanout import Hub
from server.periodic import Periodic


class Heartbeat(Periodic):
    """Publishes one `heartbeat` message to every client of some hubs at a fixed interval."""

    name = "heartbeat"

    def __init__(self, hubs: list[Hub], interval: float = protocol.HEARTBEAT_SECONDS) -> None:
        super().__init__(interval)
        self.hubs = hubs
        self.text = protocol.encode({"type": protocol.MessageType.HEARTBEAT, "interval": interval})

    async def tick(self) -> None:
        for hub in self.hubs:
            # Sequence number 0: not an event, never skipped as already seen.
            hub.publish(0, self.text)
