"""uvicorn's h11 protocol with a header timeout: a client that sends no complete request
head within `HASHWALL_HEADER_TIMEOUT` seconds is disconnected, so silent connections do not
pile up until the connection limit turns everyone away."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

logger = logging.getLogger(__name__)


class HeaderTimeoutProtocol(H11Protocol):
    """Closes a connection whose first request head does not arrive in time."""

    header_timeout = 10.0
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_timer = self.loop.call_later(self.header_timeout, self._too_slow)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        # A head has arrived once a request cycle exists, or once the connection was upgraded
        # to a websocket (the transport then belongs to the websocket's protocol, and this
        # one never gets a cycle): either way the timer must not close it later.
        if self._header_timer is not None and (
                self.cycle is not None or self.transport.get_protocol() is not self):
            self._header_timer.cancel()
            self._header_timer = None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        super().connection_lost(exc)

    def _too_slow(self) -> None:
        self._header_timer = None
        if (self.cycle is None and self.transport.get_protocol() is self
                and not self.transport.is_closing()):
            logger.info("closed a connection from %s: no request head within %gs",
                        self.client, self.header_timeout)
            self.transport.close()


def header_timeout_protocol(seconds: float) -> type[HeaderTimeoutProtocol]:
    """The protocol class for uvicorn's `http=` option, with this timeout."""
    attributes: dict[str, Any] = {"header_timeout": seconds}
    return type("HashwallHttpProtocol", (HeaderTimeoutProtocol,), attributes)
