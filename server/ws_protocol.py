"""uvicorn's websocket protocol, with a direct path for frames the fan-out encoded once.

The ASGI `send` of a text message goes through Starlette, the middleware and uvicorn, and
frames the text again for every client: on a broadcast that per-message overhead, not the
socket write, was most of the server's CPU. Each socket of this protocol offers itself to
the app under the scope extension `FRAMES`, and the hub writes its prebuilt frame straight
to the transport, as long as the transport takes it without buffering past its limit.
"""

from __future__ import annotations

import socket
import struct
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request

FRAMES = "hashwall.frames"
# Kernel memory per socket is bounded too: without this the send buffer of a socket whose
# reader stalled grows to net.ipv4.tcp_wmem's maximum (4 MiB here) before the app sees it.
SEND_BUFFER = 64 * 1024
# A dropped client gets its close frame; one that does not take it in time is reset.
ABORT_AFTER = 5.0


def text_frame(payload: bytes) -> bytes:
    """One final, unmasked text frame (RFC 6455 §5.2), as a server sends it."""
    length = len(payload)
    if length < 126:
        return struct.pack("!BB", 0x81, length) + payload
    if length < 65536:
        return struct.pack("!BBH", 0x81, 126, length) + payload
    return struct.pack("!BBQ", 0x81, 127, length) + payload


class FrameProtocol(WebSocketsSansIOProtocol):
    """A websocket connection that also accepts whole prebuilt frames from the fan-out."""

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        if not self.close_sent:
            extensions: dict[str, Any] = self.scope["extensions"]  # type: ignore[assignment]
            extensions[FRAMES] = self

    @property
    def open_for_frames(self) -> bool:
        """Whether a frame written now goes out behind what is already sent, unbuffered."""
        return (self.writable.is_set() and self.handshake_complete and not self.close_sent
                and not self.disconnected)

    @property
    def gone(self) -> bool:
        """Whether nothing more can be written: closing, closed or lost."""
        return self.close_sent or self.disconnected

    def write_frame(self, frame: bytes) -> None:
        """Write one prebuilt frame."""
        self.transport.write(frame)

    async def wait_writable(self) -> None:
        """Wait until the transport's buffer is below its low-water mark (or it is lost)."""
        await self.writable.wait()

    def close_now(self, code: int, reason: str) -> None:
        """Close without waiting for a stalled buffer; reset if the peer does not follow."""
        if self.gone:
            return
        self.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
        self.conn.send_close(code, reason)
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        if self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()
        # uvicorn would wait for the buffer to drain, which a stalled reader never lets happen.
        self.close_timer = self.loop.call_later(ABORT_AFTER, self.transport.abort)
