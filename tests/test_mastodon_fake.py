"""The fake Mastodon server answers as Mastodon does: paging, errors, SSE and websocket
framing, so that the client tests prove something."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest

from server.sources.mastodon.protocol import SseParser, StreamEvent, link_params
from tests.fake_mastodon.recordings import unique_statuses
from tests.fake_mastodon.server import TOKEN, FakeMastodonServer

PUBLIC = [s for s in unique_statuses("rtoot_real_statuses.jsonl")
          if s["visibility"] == "public" and not s.get("reblog")]
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TIMEOUT = 10.0


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeMastodonServer, aiohttp.ClientSession]]:
    """A fake server with 45 tagged statuses, and an HTTP client."""
    async with FakeMastodonServer() as server, aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=TIMEOUT)) as http:
        for status in PUBLIC[:45]:
            server.post(status, "#uemedef14")
        yield server, http


async def test_tag_timeline_pages_newest_first_with_min_id_and_link(
        fake: tuple[FakeMastodonServer, aiohttp.ClientSession]) -> None:
    """limit is capped at 40; min_id gives the oldest newer page; Link names both ways."""
    server, http = fake
    url = f"{server.base}/api/v1/timelines/tag/UEMEDEF14"
    async with http.get(url, params={"limit": "100"}) as response:
        page = await response.json()
        link = response.headers["Link"]
    ids = [s["id"] for s in page]
    assert len(ids) == 40 and ids == sorted(ids, reverse=True)
    assert link_params(link, "next") == {"max_id": ids[-1]}
    async with http.get(url, params={"min_id": ids[-1], "limit": "3"}) as response:
        newer = [s["id"] for s in await response.json()]
    position = ids.index(ids[-1])
    assert newer == ids[position - 3:position]
    async with http.get(url, params={"max_id": ids[-1]}) as response:
        assert len(await response.json()) == 5
    async with http.get(f"{server.base}/api/v1/timelines/tag/other",
                        params=[("any[]", "uemedef14")]) as response:
        assert len(await response.json()) == 20


async def test_errors_are_mastodons(
        fake: tuple[FakeMastodonServer, aiohttp.ClientSession]) -> None:
    """A wrong token is 401, a scripted 429 carries its headers, signed-in only is 422."""
    server, http = fake
    url = f"{server.base}/api/v1/timelines/tag/uemedef14"
    async with http.get(url, headers={"Authorization": "Bearer wrong"}) as response:
        assert response.status == 401
        assert await response.json() == {"error": "The access token is invalid"}
    server.fail_next("/api/v1/timelines/", 429, {"error": "Too many requests"},
                     {"Retry-After": "30"})
    async with http.get(url) as response:
        assert response.status == 429 and response.headers["Retry-After"] == "30"
    server.signed_in_only = True
    async with http.get(url) as response:
        assert response.status == 422
    async with http.get(url, headers=AUTH) as response:
        assert response.status == 200


async def test_websocket_streams_subscribed_hashtags_with_string_payloads(
        fake: tuple[FakeMastodonServer, aiohttp.ClientSession]) -> None:
    """After a subscribe message, updates and deletes of the tag arrive as Mastodon frames;
    a missing token is refused at the handshake."""
    server, http = fake
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await http.ws_connect(f"{server.base}/api/v1/streaming")
    assert refused.value.status == 401
    ws = await http.ws_connect(f"{server.base}/api/v1/streaming?access_token={TOKEN}")
    await ws.send_str(json.dumps({"type": "subscribe", "stream": "hashtag",
                                  "tag": "uemedef14"}))
    await server.wait_until(lambda: server.streams_for("uemedef14") == 1, TIMEOUT)
    local_id = server.post(PUBLIC[0], "#uemedef14")
    server.delete(local_id)
    update = json.loads((await ws.receive(timeout=TIMEOUT)).data)
    assert update["stream"] == ["hashtag", "uemedef14"] and update["event"] == "update"
    assert isinstance(update["payload"], str)
    assert json.loads(update["payload"])["id"] == local_id
    deleted = json.loads((await ws.receive(timeout=TIMEOUT)).data)
    assert (deleted["event"], deleted["payload"]) == ("delete", local_id)
    await ws.close()


async def test_sse_opens_with_the_preamble_and_keeps_alive(
        fake: tuple[FakeMastodonServer, aiohttp.ClientSession]) -> None:
    """The SSE stream starts with `:)`, sends `:thump` when quiet, then `event:`/`data:`."""
    server, http = fake
    server.heartbeat = 0.05
    async with http.get(f"{server.base}/api/v1/streaming/hashtag",
                        params={"tag": "uemedef14"}, headers=AUTH) as response:
        assert response.content_type == "text/event-stream"
        parser = SseParser()
        seen: list[object] = []
        async with asyncio.timeout(TIMEOUT):
            while len(seen) < 2:
                seen += parser.feed(await response.content.readany())
            server.post(PUBLIC[1], "#uemedef14")
            while not any(isinstance(i, StreamEvent) for i in seen):
                seen += parser.feed(await response.content.readany())
    assert [getattr(i, "text", None) for i in seen[:2]] == [")", "thump"]
    event = next(i for i in seen if isinstance(i, StreamEvent))
    assert event.event == "update" and event.payload["uri"] == PUBLIC[1]["uri"]


async def test_websocket_takes_the_token_as_its_subprotocol(
        fake: tuple[FakeMastodonServer, aiohttp.ClientSession]) -> None:
    """Browsers cannot set headers: the token may come as Sec-WebSocket-Protocol."""
    server, http = fake
    ws = await http.ws_connect(f"{server.base}/api/v1/streaming?stream=hashtag&tag=uemedef14",
                               protocols=(TOKEN,))
    assert ws.protocol == TOKEN
    await server.wait_until(lambda: server.streams_for("uemedef14") == 1, TIMEOUT)
    await ws.close()
