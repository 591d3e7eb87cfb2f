"""B1: a minimal server on the `websockets` library, fanning out with `websockets.broadcast()`.

`GET /ws` is a websocket; `GET /publish` broadcasts the message to every open websocket.
Run: python -m bench.baseline_websockets --port P --message FILE
"""

from __future__ import annotations

import asyncio
import logging
from http import HTTPStatus

from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.http11 import Request, Response

from bench.baseline_raw import arguments


async def run(port: int, message: str) -> None:
    """Listen on 127.0.0.1:port until killed."""
    sockets: set[ServerConnection] = set()

    def publish(connection: ServerConnection, request: Request) -> Response | None:
        if not request.path.startswith("/publish"):
            return None
        broadcast(sockets, message)
        return connection.respond(HTTPStatus.OK, f"{len(sockets)}\n")

    async def handler(connection: ServerConnection) -> None:
        sockets.add(connection)
        try:
            async for _ in connection:
                pass
        finally:
            sockets.discard(connection)

    async with serve(handler, "127.0.0.1", port, compression=None, process_request=publish,
                     backlog=2048) as server:
        await server.serve_forever()


def main() -> None:
    args = arguments(__doc__)
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(run(args.port, args.message.read_text(encoding="utf-8")))


if __name__ == "__main__":
    main()
