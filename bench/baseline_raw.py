"""B0, the floor: a raw asyncio server that writes one prebuilt frame to every socket.

`GET /ws` upgrades to a websocket; `GET /publish` writes the message, framed once, to every
open websocket transport and answers with the number of sockets written to.
Run: python -m bench.baseline_raw --port P --message FILE
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from bench import frames
from bench.procstat import raise_nofile


class Broadcaster:
    """The open websocket transports and the one prebuilt frame they all receive."""

    def __init__(self, message: bytes) -> None:
        self.frame = frames.frame(message)
        self.sockets: set[asyncio.Transport] = set()

    def publish(self) -> int:
        """Write the prebuilt frame to every socket; the floor of any fan-out."""
        payload = self.frame
        for transport in self.sockets:
            transport.write(payload)
        return len(self.sockets)


class Connection(asyncio.Protocol):
    """An HTTP request that either publishes or upgrades to a websocket."""

    def __init__(self, hub: Broadcaster) -> None:
        self.hub = hub
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.upgraded = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:
            self.hub.sockets.discard(self.transport)

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        self.buffer += data
        if self.upgraded:
            received, self.buffer = frames.split_frames(self.buffer)
            for opcode, _, payload in received:
                if opcode == frames.CLOSE:
                    self.hub.sockets.discard(self.transport)
                    self.transport.write(frames.frame(payload[:2], frames.CLOSE))
                    self.transport.close()
            return
        while b"\r\n\r\n" in self.buffer:
            head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            path = lines[0].split(b" ")[1] if len(lines[0].split(b" ")) > 1 else b"/"
            headers = dict(
                (k.strip().lower(), v.strip())
                for k, _, v in (line.partition(b":") for line in lines[1:])
            )
            if path.startswith(b"/publish"):
                body = str(self.hub.publish()).encode()
                self.transport.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
                    + str(len(body)).encode() + b"\r\n\r\n" + body
                )
            elif b"sec-websocket-key" in headers:
                self.transport.write(frames.upgrade_response(headers[b"sec-websocket-key"]))
                self.upgraded = True
                self.hub.sockets.add(self.transport)
                return
            else:
                self.transport.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")


async def serve(port: int, message: bytes) -> None:
    """Listen on 127.0.0.1:port until killed."""
    hub = Broadcaster(message)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Connection(hub), "127.0.0.1", port, backlog=2048)
    async with server:
        await server.serve_forever()


def arguments(description: str | None) -> argparse.Namespace:
    """The command line of a baseline: its port and the file of the message it broadcasts."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--message", type=Path, required=True)
    raise_nofile()
    return parser.parse_args()


def main() -> None:
    args = arguments(__doc__)
    asyncio.run(serve(args.port, args.message.read_bytes()))


if __name__ == "__main__":
    main()
