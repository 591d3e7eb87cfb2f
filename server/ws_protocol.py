"""uvicorn's websocket protocol, with a direct path for frames the fan-out encoded once.

The ASGI `send` of a text message goes through Starlette, the middleware and uvicorn, and
frames the text again for every client: on a broadcast that per-message overhead, not the
socket write, was most of the server's CPU. Each socket of this protocol offers itself to
the app under the scope extension `FRAMES`, and the hub writes its prebuilt frame straight
to the transport, as long as the transport takes it without buffering past its limit.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import socket
import struct
import termios
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request

logger = logging.getLogger(__name__)

FRAMES = "hashwall.frames"
# Kernel memory per socket is bounded too: without this the send buffer of a socket whose
# reader stalled grows to net.ipv4.tcp_wmem's maximum (4 MiB here) before the app sees it.
SEND_BUFFER = 64 * 1024
# A dropped client gets its close frame; one that does not take it in time is reset.
ABORT_AFTER = 5.0
# What one connection may leave unsent (in the transport and the kernel's send queue)
# before it is reset: a client that sends pings and never reads the pongs grows it.
MAX_UNSENT = 512 * 1024
# A screen with this much unsent (its kernel send queue included) has stopped reading:
# the fan-out drops it, whatever its backlog holds.
SLOW_CLIENT_UNSENT = 160 * 1024
# Linux: the bytes of a socket's send queue the peer has not acknowledged (SIOCOUTQ).
SIOCOUTQ = getattr(termios, "TIOCOUTQ", None)


def kernel_unsent(sock: socket.socket | None) -> int:
    """Bytes the kernel still holds for the peer (0 where the platform cannot tell)."""
    if sock is None or SIOCOUTQ is None:
        return 0
    try:
        raw = fcntl.ioctl(sock.fileno(), SIOCOUTQ, b"\0\0\0\0")
    except OSError:
        return 0
    return int(struct.unpack("i", raw)[0])


def text_frame(payload: bytes) -> bytes:
    """One final, unmasked text frame (RFC 6455 §5.2), as a server sends it."""
    length = len(payload)
    if length < 126:
        return struct.pack("!BB", 0x81, length) + payload
    if length < 65536:
        return struct.pack("!BBH", 0x81, 126, length) + payload
    return struct.pack("!BBQ", 0x81, 127, length) + payload


class _Discard:
    """The receive queue of a detached socket: the app reads no more, so nothing is kept."""

    def put_nowait(self, message: Any) -> None:
        pass

    def empty(self) -> bool:
        return True


class FrameProtocol(WebSocketsSansIOProtocol):
    """A websocket connection that also accepts whole prebuilt frames from the fan-out.

    A screen's socket is `detach`ed once it is resumed: its ASGI handler returns, and the
    connection lives on with only this object and the hub's client, without a task.
    """

    detached = False
    _on_lost: Callable[[], None] | None = None

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

    def unsent(self) -> int:
        """Bytes written to this connection that the peer has not taken yet: in the
        transport's buffer and in the kernel's send queue."""
        if self.transport is None:
            return 0
        return self.transport.get_write_buffer_size() + kernel_unsent(
            self.transport.get_extra_info("socket"))

    def reset(self) -> None:
        """Drop the connection at once with a TCP reset (SO_LINGER 0): nothing it was sent
        stays in the kernel's buffers waiting for a peer that does not read."""
        if self.transport is None or (self.transport.is_closing() and self.disconnected):
            return
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_sent = True
        self.queue.put_nowait({"type": "websocket.disconnect", "code": 1006, "reason": ""})
        self.transport.abort()

    def handle_ping(self) -> None:
        super().handle_ping()
        if self.unsent() > MAX_UNSENT:
            logger.warning("reset websocket %s: %d bytes of answers to its pings unread",
                           self.client, self.unsent())
            self.reset()

    def write_frame(self, frame: bytes) -> None:
        """Write one prebuilt frame."""
        self.transport.write(frame)

    async def wait_writable(self) -> None:
        """Wait until the transport's buffer is below its low-water mark (or it is lost)."""
        await self.writable.wait()

    def detach(self, on_lost: Callable[[], None]) -> None:
        """Keep the connection open after the app returns; call `on_lost` when it ends.

        Messages the client sends from then on are discarded (a screen's socket only
        listens); pings and the closing handshake still get their answers.
        """
        self.detached = True
        self.queue = _Discard()  # type: ignore[assignment]
        # What only the handshake and the app needed.
        self.request = self.response = None  # type: ignore[assignment]
        self.scope = {"type": "websocket", "client": self.client}  # type: ignore[typeddict-item]
        if self.disconnected:
            on_lost()
        else:
            self._on_lost = on_lost

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        on_lost, self._on_lost = self._on_lost, None
        if on_lost is not None:
            on_lost()

    def send_receive_event_to_app(self) -> None:
        if self.detached:
            data, self.frames = b"".join(self.frames), []
            if self.curr_msg_data_type == "text" and not self.close_sent:
                try:
                    data.decode()
                except UnicodeDecodeError:
                    # RFC 6455 §8.1: a text message that is not UTF-8 fails the connection.
                    self.conn.send_close(1007, "expected UTF-8 text")
                    self.handle_parser_exception()
            return
        super().send_receive_event_to_app()

    async def run_asgi(self) -> None:
        # uvicorn's, except that a detached connection stays open when the app returns.
        try:
            result = await self.app(self.scope, self.receive, self.send)
        except ClientDisconnected:
            pass
        except BaseException:
            self.logger.exception("Exception in ASGI application\n")
            self.send_500_response()
        else:
            if not self.handshake_complete:
                self.logger.error("ASGI callable returned without completing handshake.")
                self.send_500_response()
            elif result is not None:
                self.logger.error("ASGI callable should return None, but returned '%s'.", result)
        if self.close_timer is None and not self.detached:
            self.transport.close()

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
