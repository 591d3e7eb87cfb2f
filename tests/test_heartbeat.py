"""Every socket hears a heartbeat, so that pages can tell a dead link from a quiet wall."""

from __future__ import annotations

from tests.utils import (
    make_post,
    make_settings,
    moderator,
    recv,
    run_server,
    session_cookie,
    ws_client,
)


async def test_public_and_moderator_sockets_get_heartbeats_between_events(store_url: str) -> None:
    """Heartbeats carry the interval and no sequence number; events keep their numbering."""
    settings = make_settings(store_url=store_url, trusted_authors=["trusted"],
                             heartbeat_seconds=0.1)
    async with run_server(settings) as server, moderator(server) as http:
        headers = {"Cookie": session_cookie(http)}
        async with ws_client(f"{server.ws_base}/ws") as public, ws_client(
            f"{server.ws_base}/ws/moderate", additional_headers=headers
        ) as console:
            assert (await recv(public))["type"] == "snapshot"
            assert (await recv(console))["type"] == "queue.snapshot"
            for ws in (public, console):
                beat = await recv(ws)
                while beat["type"] == "presence":
                    beat = await recv(ws)
                assert beat == {"type": "heartbeat", "interval": 0.1}
            await server.wall.pipeline.ingest(make_post(1, handle="trusted"))
            message = await recv(public)
            while message["type"] == "heartbeat":
                message = await recv(public)
    assert message["type"] == "post.shown" and message["seq"] == 1
