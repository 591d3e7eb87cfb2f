"""A Bluesky post seen both through Jetstream and bridged to Mastodon is one post."""

from __future__ import annotations

from moderation.post import Status
from moderation.queue import Verdict
from moderation.store import Store
from server.sources.bluesky.events import POST, Commit, Operation
from server.sources.bluesky.normalise import fallback_author, normalise_post
from server.sources.mastodon.normalise import normalise_status
from tests.fake_mastodon.recordings import recorded_statuses

BRIDGE = "https://bsky.brid.gy/convert/ap/"


async def test_the_bridged_copy_and_the_jetstream_post_queue_once(any_store: Store) -> None:
    """Each recorded Bridgy Fed status and the Jetstream commit of the same post (same DID
    and record key) normalise to one id, so the queue holds the first one only."""
    bridged = [s for s in recorded_statuses() if s["uri"].startswith(BRIDGE + "at://")]
    assert bridged
    for status in bridged:
        _, _, did, collection, rkey = status["uri"].removeprefix(BRIDGE).split("/")
        assert collection == POST
        # What Jetstream sends for that post (the record is written: the recordings hold
        # the bridged copies, not the commits).
        record = {"$type": POST, "text": "la même publication", "createdAt": status["created_at"]}
        native = normalise_post(Commit(did, 1, Operation.CREATE, POST, rkey, "cid", record),
                                fallback_author(did))
        via_mastodon = normalise_status(status)
        assert native.id == via_mastodon.id
        _, first = await any_store.submit(native, Verdict(Status.PENDING))
        _, second = await any_store.submit(via_mastodon, Verdict(Status.PENDING))
        assert first and not second
    assert await any_store.count(Status.PENDING) == len({s["uri"] for s in bridged})
