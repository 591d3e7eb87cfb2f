"""The store contract: the same test body against every backend."""

from __future__ import annotations

import asyncio

import pytest

from moderation.exceptions import DecisionConflict, UnknownPost
from moderation.post import Status
from moderation.queue import MODERATION, PUBLIC, Action, Verdict
from moderation.store import Store
from tests.utils import make_post

PENDING = Verdict(Status.PENDING)
APPROVED = Verdict(Status.APPROVED, "trusted_author")


async def test_submit_is_idempotent_on_the_post_id(any_store: Store) -> None:
    """Submitting the same post twice queues it once."""
    item, created = await any_store.submit(make_post(1), PENDING)
    again, created_again = await any_store.submit(make_post(1, text="other"), PENDING)
    assert created and not created_again
    assert again.post.text == item.post.text
    assert await any_store.count(Status.PENDING) == 1
    assert await any_store.last_seq(MODERATION) == 1


async def test_pending_posts_make_no_public_event(any_store: Store) -> None:
    """Only approval writes to the public event log."""
    await any_store.submit(make_post(1), PENDING)
    assert await any_store.last_seq(PUBLIC) == 0
    await any_store.decide("x:1", Action.APPROVE, "ana")
    events = await any_store.events_after(PUBLIC, 0)
    assert [(e.seq, e.type, e.data["post"]["id"]) for e in events] == [(1, "post.shown", "x:1")]


async def test_decisions_follow_the_allowed_transitions(any_store: Store) -> None:
    """Approve, hide and reject move a post as documented, and log public events."""
    await any_store.submit(make_post(1), PENDING)
    await any_store.submit(make_post(2), PENDING)
    approved = await any_store.decide("x:1", Action.APPROVE, "ana")
    assert (approved.before, approved.after) == (Status.PENDING, Status.APPROVED)
    hidden = await any_store.decide("x:1", Action.HIDE, "ben")
    assert (hidden.before, hidden.after) == (Status.APPROVED, Status.HIDDEN)
    await any_store.decide("x:2", Action.REJECT, "ana")
    events = await any_store.events_after(PUBLIC, 0)
    assert [e.type for e in events] == ["post.shown", "post.retracted"]
    assert events[1].data == {"id": "x:1"}
    item = await any_store.get("x:2")
    assert item is not None and item.status is Status.REJECTED and item.decided_by == "ana"
    with pytest.raises(DecisionConflict):
        await any_store.decide("x:2", Action.HIDE, "ana")


async def test_unknown_post_is_refused(any_store: Store) -> None:
    """A decision on an id the queue does not hold raises UnknownPost."""
    with pytest.raises(UnknownPost):
        await any_store.decide("x:404", Action.APPROVE, "ana")


async def test_first_of_two_concurrent_decisions_wins(any_store: Store) -> None:
    """Two decisions on one pending post at once: exactly one applies."""
    await any_store.submit(make_post(1), PENDING)
    results = await asyncio.gather(
        any_store.decide("x:1", Action.APPROVE, "ana", Status.PENDING),
        any_store.decide("x:1", Action.REJECT, "ben", Status.PENDING),
        return_exceptions=True,
    )
    conflicts = [r for r in results if isinstance(r, DecisionConflict)]
    assert len(conflicts) == 1
    item = await any_store.get("x:1")
    assert item is not None and item.status in (Status.APPROVED, Status.REJECTED)


async def test_snapshot_lists_approved_posts_newest_first(any_store: Store) -> None:
    """The snapshot holds approved posts in approval order, newest first, with the last seq."""
    for n in (1, 2, 3):
        await any_store.submit(make_post(n), PENDING)
    for n in (2, 1, 3):
        await any_store.decide(f"x:{n}", Action.APPROVE, "ana")
    await any_store.decide("x:1", Action.HIDE, "ana")
    seq, posts = await any_store.snapshot(10)
    assert seq == 4
    assert [p.id for p in posts] == ["x:3", "x:2"]


async def test_edit_of_pending_post_replaces_it(any_store: Store) -> None:
    """An edit of a pending post rejects the earlier version as superseded."""
    await any_store.submit(make_post(1, text="typo"), PENDING)
    await any_store.submit(make_post(2, text="fixed", edit_of="x:1"), PENDING)
    earlier = await any_store.get("x:1")
    assert earlier is not None and earlier.status is Status.REJECTED
    assert earlier.rule == "edit.superseded"
    assert [i.post.id for i in await any_store.list_items(Status.PENDING)] == ["x:2"]


async def test_edit_of_approved_post_waits_and_then_replaces_it(any_store: Store) -> None:
    """An edit of an approved post waits even when trusted; its approval retracts the old one."""
    await any_store.submit(make_post(1, text="approved words"), APPROVED)
    item, _ = await any_store.submit(make_post(2, text="other words", edit_of="x:1"), APPROVED)
    assert item.status is Status.PENDING and item.rule == "edit.of-approved"
    _, posts = await any_store.snapshot(10)
    assert [p.id for p in posts] == ["x:1"]
    await any_store.decide("x:2", Action.APPROVE, "ana")
    _, posts = await any_store.snapshot(10)
    assert [p.id for p in posts] == ["x:2"]
    events = await any_store.events_after(PUBLIC, 0)
    assert [(e.type, e.data.get("id") or e.data["post"]["id"]) for e in events] == [
        ("post.shown", "x:1"), ("post.retracted", "x:1"), ("post.shown", "x:2"),
    ]


async def test_audit_records_rules_and_moderators(any_store: Store) -> None:
    """Every submit and decision leaves an audit entry naming who and which rule."""
    await any_store.submit(make_post(1), APPROVED)
    await any_store.decide("x:1", Action.HIDE, "ana")
    entries = await any_store.audit(10)
    assert [(e.actor, e.action, e.after) for e in entries] == [
        ("ana", "hide", "hidden"), ("rules", "submit", "approved"),
    ]
    assert entries[1].rule == "trusted_author"


async def test_state_survives_reopening(backend_url: str) -> None:
    """Closing and reopening the store keeps posts, statuses and sequence numbers."""
    from moderation.store import create_store

    store = create_store(backend_url)
    await store.open()
    await store.submit(make_post(1), PENDING)
    await store.submit(make_post(2), APPROVED)
    await store.close()
    store = create_store(backend_url)
    await store.open()
    try:
        assert [i.post.id for i in await store.list_items(Status.PENDING)] == ["x:1"]
        await store.decide("x:1", Action.APPROVE, "ana")
        assert [e.seq for e in await store.events_after(PUBLIC, 0)] == [1, 2]
    finally:
        await store.close()


async def test_wait_for_events_wakes_on_a_new_event(any_store: Store) -> None:
    """A follower waiting on a channel wakes when an event is appended."""
    waiter = asyncio.create_task(any_store.wait_for_events(PUBLIC, 0, timeout=30))
    await asyncio.sleep(0)
    await any_store.submit(make_post(1), APPROVED)
    await asyncio.wait_for(waiter, 10)
    assert await any_store.last_seq(PUBLIC) == 1


async def test_approved_before_pages_back_from_a_shown_post(any_store: Store) -> None:
    """Older approved posts come newest first from where a post was shown, even once hidden."""
    for n in range(1, 6):
        await any_store.submit(make_post(n), APPROVED)
    await any_store.submit(make_post(6), PENDING)
    await any_store.submit(make_post(7), PENDING)
    await any_store.decide("x:7", Action.APPROVE, "ana")  # shown last although queued last
    await any_store.decide("x:2", Action.HIDE, "ana")
    older = await any_store.approved_before("x:4", 10)
    assert [p.id for p in older] == ["x:3", "x:1"]
    assert [p.id for p in await any_store.approved_before("x:7", 2)] == ["x:5", "x:4"]
    # The cursor stays valid after its own post is hidden.
    assert [p.id for p in await any_store.approved_before("x:2", 10)] == ["x:1"]
    assert await any_store.approved_before("x:1", 10) == []
    for never_shown in ("x:6", "x:404"):
        with pytest.raises(UnknownPost):
            await any_store.approved_before(never_shown, 10)
