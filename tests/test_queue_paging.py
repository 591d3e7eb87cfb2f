"""Cursor paging through the moderation queue: GET /api/posts?status=pending&after=…"""

from __future__ import annotations

import httpx
import pytest

from moderation.exceptions import UnknownPost
from moderation.post import Status
from moderation.queue import Action, Verdict
from moderation.store import Store
from tests.utils import make_post, make_settings, moderator, run_server


async def test_pages_follow_the_queue_from_a_cursor_even_after_its_post_left(
    any_store: Store,
) -> None:
    """pending_after gives the posts queued after the cursor, oldest first, also when the
    cursor's post was decided meanwhile; a cursor that was never queued is refused."""
    for n in range(1, 8):
        await any_store.submit(make_post(n), Verdict(Status.PENDING))
    assert [i.post.id for i in await any_store.pending_after("x:2", 3)] == ["x:3", "x:4", "x:5"]
    await any_store.decide("x:5", Action.APPROVE, "ana")
    await any_store.decide("x:3", Action.REJECT, "ana")
    page = await any_store.pending_after("x:3", 10)
    assert [i.post.id for i in page] == ["x:4", "x:6", "x:7"]
    assert all(i.status is Status.PENDING for i in page)
    assert await any_store.pending_after("x:7", 10) == []
    with pytest.raises(UnknownPost):
        await any_store.pending_after("x:404", 10)


async def test_the_api_pages_through_more_than_five_hundred_pending_posts(
    backend_url: str,
) -> None:
    """With 1,203 posts pending, pages of 500 chained by `next` list every post once, in
    queue order, and the last page says there is no next one."""
    settings = make_settings(store_url=backend_url)
    async with run_server(settings) as server:
        for n in range(1, 1204):
            await server.wall.pipeline.offer(make_post(n))
        await server.wall.pipeline.settled()
        async with moderator(server) as http:
            seen: list[str] = []
            query = {"status": "pending", "limit": "500"}
            pages = 0
            while True:
                response = await http.get("/api/posts", params=query)
                assert response.status_code == 200, response.text
                body = response.json()
                seen += [item["post"]["id"] for item in body["items"]]
                pages += 1
                if body["next"] is None:
                    break
                query = {**query, "after": body["next"]}
            assert pages == 3
            assert seen == [f"x:{n}" for n in range(1, 1204)]
            for params, words in [
                ({"status": "pending", "after": "x:9999"}, "x:9999"),
                ({"status": "rejected", "after": "x:1"}, "status=pending only"),
                ({"status": "pending", "after": "x:1", "limit": "501"}, "limit"),
            ]:
                response = await http.get("/api/posts", params=params)
                assert response.status_code == 400, params
                assert words in response.json()["error"], params
        async with httpx.AsyncClient(base_url=server.base) as anonymous:
            response = await anonymous.get("/api/posts",
                                           params={"status": "pending", "after": "x:1"})
            assert response.status_code == 401
