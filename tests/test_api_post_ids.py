"""Decisions over HTTP on posts whose ids carry slashes (Mastodon and Bluesky uris)."""

from __future__ import annotations

import dataclasses
from urllib.parse import quote

import pytest

from moderation.post import Status
from tests.utils import RunningServer, make_post, moderator

IDS = [
    "mastodon:https://piaille.fr/users/ada/statuses/113420000000000001",
    "bluesky:at://did:plc:abc123/app.bsky.feed.post/3lfxyz2abc",
]


@pytest.mark.parametrize("post_id", IDS)
async def test_a_post_id_with_slashes_can_be_approved_and_hidden(
    server: RunningServer, post_id: str,
) -> None:
    """POST /api/posts/<id>/<action> reaches the post whatever slashes its id holds."""
    await server.wall.pipeline.ingest(dataclasses.replace(make_post(1), id=post_id))
    async with moderator(server) as http:
        approved = await http.post(f"/api/posts/{post_id}/approve")
        assert approved.status_code == 200, approved.text
        assert (await server.wall.store.get(post_id)).status is Status.APPROVED
        hidden = await http.post(f"/api/posts/{quote(post_id, safe='')}/hide")
        assert hidden.status_code == 200, hidden.text
    item = await server.wall.store.get(post_id)
    assert item is not None and item.status is Status.HIDDEN
