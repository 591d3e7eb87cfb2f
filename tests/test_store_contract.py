"""The store contract: the same test body against every backend."""

from __future__ import annotations

import asyncio

import pytest

from moderation.exceptions import DecisionConflict, UnknownPost
from moderation.post import Status
from moderation.queue import MODERATION, PUBLIC, Action, Event, Verdict
from moderation.store import Store
from moderation.wall_state import WallState
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


async def test_undoing_the_approval_of_an_edit_shows_the_replaced_version_again(
    any_store: Store,
) -> None:
    """The room sees the version it saw before, not nothing; a later approval of another
    version, or an undo by someone else, restores nothing."""
    await any_store.submit(make_post(1, text="approved words"), APPROVED)
    await any_store.submit(make_post(2, text="other words", edit_of="x:1"), PENDING)
    await any_store.decide("x:2", Action.APPROVE, "ana")
    undone = await any_store.undo("ana")
    assert (undone.post_id, undone.after) == ("x:2", Status.PENDING)
    _, posts = await any_store.snapshot(10)
    assert [p.id for p in posts] == ["x:1"]
    restored = await any_store.get("x:1")
    assert restored is not None and (restored.status, restored.rule, restored.decided_by) == (
        Status.APPROVED, "edit.restored", "ana")
    events = await any_store.events_after(PUBLIC, 0)
    assert [(e.type, e.data.get("id") or e.data["post"]["id"]) for e in events] == [
        ("post.shown", "x:1"), ("post.retracted", "x:1"), ("post.shown", "x:2"),
        ("post.retracted", "x:2"), ("post.shown", "x:1"),
    ]
    decided = [e.data for e in await any_store.events_after(MODERATION, 0)
               if e.type == "queue.decided"][-2:]
    assert [(d["id"], d["action"], d["status"]) for d in decided] == [
        ("x:2", "undo", "pending"), ("x:1", "restore", "approved")]
    assert [(a.action, a.post_id) for a in await any_store.audit(2)] == [
        ("restore", "x:1"), ("undo", "x:2")]
    # Approved again, then the version it replaced hidden by hand: undoing the hide of
    # x:1 is an undo of a hide, which restores nothing else.
    await any_store.decide("x:2", Action.APPROVE, "ben")
    await any_store.decide("x:2", Action.HIDE, "ben")
    await any_store.undo("ben")
    _, posts = await any_store.snapshot(10)
    assert [p.id for p in posts] == ["x:2"]


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


async def test_undo_restores_the_moderators_last_decision(any_store: Store) -> None:
    """Undo puts the moderator's newest decision back, with its screen events, newest first."""
    from moderation.exceptions import InvalidAction

    await any_store.submit(make_post(1), PENDING)
    await any_store.submit(make_post(2), PENDING)
    await any_store.decide("x:1", Action.APPROVE, "ana")
    await any_store.decide("x:2", Action.REJECT, "ana")
    await any_store.decide("x:1", Action.HIDE, "ben")
    undone = await any_store.undo("ben")
    assert (undone.post_id, undone.action, undone.before, undone.after) == (
        "x:1", Action.HIDE, Status.HIDDEN, Status.APPROVED)
    first = await any_store.undo("ana")
    assert (first.post_id, first.after) == ("x:2", Status.PENDING)
    second = await any_store.undo("ana")
    assert (second.post_id, second.before, second.after) == ("x:1", Status.APPROVED,
                                                            Status.PENDING)
    with pytest.raises(InvalidAction):
        await any_store.undo("ana")
    events = await any_store.events_after(PUBLIC, 0)
    assert [e.type for e in events] == ["post.shown", "post.retracted", "post.shown",
                                        "post.retracted"]
    assert await any_store.count(Status.PENDING) == 2
    moderation = [e for e in await any_store.events_after(MODERATION, 0)
                  if e.data.get("action") == "undo"]
    assert [(e.data["id"], e.data["undone"], e.data["item"]["status"]) for e in moderation] == [
        ("x:1", "hide", "approved"), ("x:2", "reject", "pending"), ("x:1", "approve", "pending")]
    assert [(e.actor, e.action) for e in await any_store.audit(3)] == [
        ("ana", "undo"), ("ana", "undo"), ("ben", "undo")]


async def test_undo_refuses_when_someone_decided_after(any_store: Store) -> None:
    """An undo of a decision a colleague has since overridden changes nothing."""
    await any_store.submit(make_post(1), PENDING)
    await any_store.decide("x:1", Action.APPROVE, "ana")
    await any_store.decide("x:1", Action.HIDE, "ben")
    with pytest.raises(DecisionConflict):
        await any_store.undo("ana")
    item = await any_store.get("x:1")
    assert item is not None and item.status is Status.HIDDEN


async def test_a_decision_resent_with_its_ref_is_answered_not_applied_twice(
    any_store: Store,
) -> None:
    """The same client ref gets the first outcome back, marked repeat, and no new event."""
    await any_store.submit(make_post(1), PENDING)
    first = await any_store.decide("x:1", Action.APPROVE, "ana", Status.PENDING, ref="r-1")
    seq = await any_store.last_seq(MODERATION)
    again = await any_store.decide("x:1", Action.APPROVE, "ana", Status.PENDING, ref="r-1")
    assert not first.repeat and again.repeat
    assert (again.post_id, again.action, again.after) == ("x:1", Action.APPROVE, Status.APPROVED)
    assert await any_store.last_seq(MODERATION) == seq
    with pytest.raises(DecisionConflict):  # another moderator's same ref is another decision
        await any_store.decide("x:1", Action.APPROVE, "ben", Status.PENDING, ref="r-1")
    await any_store.decide("x:1", Action.HIDE, "ana", ref="r-2")
    undone = await any_store.undo("ana", ref="r-3")
    repeated = await any_store.undo("ana", ref="r-3")
    assert repeated.repeat and (repeated.post_id, repeated.after) == ("x:1", undone.after)
    item = await any_store.get("x:1")
    assert item is not None and item.status is Status.APPROVED


async def test_pin_unpin_and_hiding_the_pinned_post(any_store: Store) -> None:
    """Only an approved post is pinned, one at a time; hiding it also empties the place."""
    for n in (1, 2, 3):
        await any_store.submit(make_post(n), APPROVED if n < 3 else PENDING)
    with pytest.raises(DecisionConflict):
        await any_store.pin("x:3", "ana")
    with pytest.raises(UnknownPost):
        await any_store.pin("x:404", "ana")
    assert await any_store.pin("x:1", "ana") is True
    assert await any_store.pin("x:1", "ana") is False
    assert await any_store.pin("x:2", "ana") is True
    snapshot = await any_store.snapshot(10)
    assert snapshot.pinned is not None and snapshot.pinned.id == "x:2"
    assert (await any_store.wall_state()).pinned == "x:2"
    await any_store.decide("x:2", Action.HIDE, "ben")
    assert (await any_store.snapshot(10)).pinned is None
    assert await any_store.unpin("ana") is None
    await any_store.pin("x:1", "ana")
    assert await any_store.unpin("ana") == "x:1"
    public = [(e.type, e.data.get("id") or e.data["post"]["id"])
              for e in await any_store.events_after(PUBLIC, 2)]
    assert public == [("post.pinned", "x:1"), ("post.pinned", "x:2"), ("post.retracted", "x:2"),
                      ("post.unpinned", "x:2"), ("post.pinned", "x:1"), ("post.unpinned", "x:1")]
    pinned = [e for e in await any_store.events_after(MODERATION, 0) if e.type == "post.pinned"]
    assert pinned[0].data["moderator"] == "ana" and pinned[0].data["post"]["id"] == "x:1"


async def test_announcement_is_shown_at_once_and_idempotent(any_store: Store) -> None:
    """A moderator's announcement is approved, shown publicly, audited, and queued once."""
    from moderation.post import Kind
    from moderation.wall_state import make_announcement

    post = make_announcement("Pause café jusqu'à 11 h", "k1", "UE MEDEF", "2014-08-27T09:00Z")
    item, created = await any_store.announce(post, "ana")
    again, created_again = await any_store.announce(post, "ana")
    assert created and not created_again and again.post.id == item.post.id == "hashwall:k1"
    assert item.status is Status.APPROVED and item.decided_by == "ana"
    events = await any_store.events_after(PUBLIC, 0)
    assert [(e.type, e.data["post"]["kind"]) for e in events] == [("post.shown", "announcement")]
    _, posts = await any_store.snapshot(5)
    assert posts[0].kind is Kind.ANNOUNCEMENT and posts[0].network == "hashwall"
    assert (await any_store.audit(1))[0].action == "announce"


async def test_pause_and_mode_persist_and_announce_themselves(backend_url: str) -> None:
    """Pause and mode survive a reopen; each change appends its event once."""
    from moderation.store import create_store
    from moderation.wall_state import Mode

    store = create_store(backend_url)
    await store.open()
    assert await store.wall_state() == WallState()
    assert await store.set_paused(True, "ana") is True
    assert await store.set_paused(True, "ana") is False
    assert await store.set_mode(Mode.POST, "ana") is True
    assert await store.set_mode(Mode.POST, "ben") is False
    await store.close()
    store = create_store(backend_url)
    await store.open()
    try:
        assert await store.wall_state() == WallState(Mode.POST, True, None)
        assert (await store.snapshot(5)).paused is True
        assert await store.set_paused(False, "ben") is True
        assert [e.type for e in await store.events_after(PUBLIC, 0)] == [
            "wall.paused", "wall.resumed"]
        types = [e.type for e in await store.events_after(MODERATION, 0)]
        assert types == ["wall.paused", "wall.mode", "wall.resumed"]
        assert [(e.action, e.before, e.after) for e in await store.audit(3)] == [
            ("resume", "paused", "running"), ("mode", "pre", "post"),
            ("pause", "running", "paused")]
    finally:
        await store.close()


async def test_rules_are_stored_and_announced(any_store: Store) -> None:
    """Stored rules come back as stored, with a rules.changed event and an audit entry."""
    assert await any_store.get_rules() is None
    rules = {"blocked_words": ["casino"], "rate_limit_posts": 3, "hold_links": True}
    await any_store.put_rules(rules, "ana")
    assert await any_store.get_rules() == rules
    event = (await any_store.events_after(MODERATION, 0))[-1]
    assert event.type == "rules.changed" and event.data == {"rules": rules, "moderator": "ana"}
    assert (await any_store.audit(1))[0].action == "rules"


async def test_claims_split_the_queue_and_return_to_the_pool(any_store: Store) -> None:
    """Batches never overlap; a release or a timeout returns them; a decision drops the claim."""
    for n in range(1, 8):
        await any_store.submit(make_post(n), PENDING)
    ana = await any_store.claim("ana", 3, ttl=60, now=1000.0)
    ben = await any_store.claim("ben", 3, ttl=60, now=1000.0)
    assert ana == ["x:1", "x:2", "x:3"] and ben == ["x:4", "x:5", "x:6"]
    assert await any_store.claim("ana", 3, ttl=60, now=1010.0) == ana  # topped up, not doubled
    item = await any_store.get("x:2")
    assert item is not None and item.claimed_by == "ana" and item.claim_until == 1070.0
    await any_store.decide("x:1", Action.APPROVE, "ana")
    decided = await any_store.get("x:1")
    assert decided is not None and decided.claimed_by is None
    assert await any_store.claim("ana", 3, ttl=60, now=1020.0) == ["x:2", "x:3", "x:7"]
    assert await any_store.release("ana") == ["x:2", "x:3", "x:7"]
    assert await any_store.release("ana") == []
    assert await any_store.release_expired(now=1059.0) == []
    assert await any_store.release_expired(now=1061.0) == ["x:4", "x:5", "x:6"]
    cora = await any_store.claim("cora", 10, ttl=60, now=1062.0)
    assert cora == ["x:2", "x:3", "x:4", "x:5", "x:6", "x:7"]
    kinds = [(e.type, e.data["moderator"]) for e in await any_store.events_after(MODERATION, 0)
             if e.type.startswith("queue.claimed") or e.type == "queue.released"]
    assert kinds == [("queue.claimed", "ana"), ("queue.claimed", "ben"),
                     ("queue.claimed", "ana"), ("queue.claimed", "ana"),
                     ("queue.released", "ana"), ("queue.released", "ben"),
                     ("queue.claimed", "cora")]


def _screen_counts(events: list[Event]) -> dict[str, int]:
    """The share counts a screen holds after applying these public events from the start."""
    counts: dict[str, int] = {}
    for event in events:
        if event.type == "post.shown" and "shares" in event.data:
            counts[event.data["post"]["id"]] = event.data["shares"]
        elif event.type == "post.shares":
            counts[event.data["id"]] = event.data["shares"]
        elif event.type == "post.retracted":
            counts.pop(event.data["id"], None)
    return counts


async def test_a_retweet_counts_once_toward_its_original(any_store: Store) -> None:
    """Each retweet id adds one share, once; moderators get every count, screens nothing yet."""
    await any_store.submit(make_post(1), PENDING)
    assert await any_store.share("x:101", "x:1") == 1
    assert await any_store.share("x:102", "x:1") == 2
    assert await any_store.share("x:101", "x:1") == 2  # the same retweet, replayed
    item = await any_store.get("x:1")
    assert item is not None and item.shares == 2 and item.to_dict()["shares"] == 2
    assert [i.shares for i in await any_store.list_items(Status.PENDING)] == [2]
    shares = [(e.type, e.data) for e in await any_store.events_after(MODERATION, 0)
              if e.type == "queue.shares"]
    assert shares == [("queue.shares", {"id": "x:1", "shares": 1}),
                      ("queue.shares", {"id": "x:1", "shares": 2})]
    assert await any_store.last_seq(PUBLIC) == 0  # a pending post's count stays private
    assert [e.action for e in await any_store.audit()] == ["submit"]  # not a decision
    assert await any_store.share_counts(["x:1", "x:2", "x:404"]) == {"x:1": 2}


async def test_a_retweet_of_an_unknown_post_is_refused_and_not_remembered(
    any_store: Store,
) -> None:
    """UnknownPost for an original not in the queue; the retweet counts once it is queued."""
    with pytest.raises(UnknownPost):
        await any_store.share("x:101", "x:1")
    assert await any_store.last_seq(MODERATION) == 0
    await any_store.submit(make_post(1), PENDING)
    assert await any_store.share("x:101", "x:1") == 1


async def test_screens_get_rounded_counts_of_approved_posts_only(any_store: Store) -> None:
    """Exact below 10, then 10, 20, 50…; shown with the post on approval; none while hidden."""
    await any_store.submit(make_post(1), PENDING)
    for n in range(1, 4):
        await any_store.share(f"x:{100 + n}", "x:1")
    await any_store.decide("x:1", Action.APPROVE, "ana")
    for n in range(4, 26):
        await any_store.share(f"x:{100 + n}", "x:1")
    events = await any_store.events_after(PUBLIC, 0)
    assert events[0].type == "post.shown" and events[0].data["shares"] == 3
    assert [e.data["shares"] for e in events[1:]] == [4, 5, 6, 7, 8, 9, 10, 20]
    assert all(e.type == "post.shares" and e.data["id"] == "x:1" for e in events[1:])
    assert (await any_store.snapshot(10)).shares == {"x:1": 20} == _screen_counts(events)
    await any_store.decide("x:1", Action.HIDE, "ana")
    await any_store.share("x:200", "x:1")  # 26, while hidden: screens hear nothing
    assert [e.type for e in await any_store.events_after(PUBLIC, events[-1].seq)] == [
        "post.retracted"]
    assert (await any_store.snapshot(10)).shares == {}
    await any_store.decide("x:1", Action.APPROVE, "ana")
    shown = (await any_store.events_after(PUBLIC, 0))[-1]
    assert shown.type == "post.shown" and shown.data["shares"] == 20
    item = await any_store.get("x:1")
    assert item is not None and item.shares == 26  # moderators see the exact count


async def test_snapshot_counts_include_the_pinned_post(any_store: Store) -> None:
    """The pinned post's count is in the snapshot even when the post is beyond its limit."""
    await any_store.submit(make_post(1), APPROVED)
    await any_store.submit(make_post(2), APPROVED)
    await any_store.share("x:101", "x:1")
    await any_store.pin("x:1", "ana")
    snapshot = await any_store.snapshot(1)
    assert [p.id for p in snapshot.posts] == ["x:2"]
    assert snapshot.pinned is not None and snapshot.shares == {"x:1": 1}


async def test_concurrent_shares_and_approval_agree_with_the_screens(any_store: Store) -> None:
    """Retweets counted while a moderator approves: every one counts once, and the events a
    screen replays give the count the snapshot gives."""
    await any_store.submit(make_post(1), PENDING)
    retweets = [any_store.share(f"x:{100 + n}", "x:1") for n in range(12)]
    replays = [any_store.share(f"x:{100 + n}", "x:1") for n in range(0, 12, 3)]
    await asyncio.gather(any_store.decide("x:1", Action.APPROVE, "ana"), *retweets, *replays)
    item = await any_store.get("x:1")
    assert item is not None and item.shares == 12
    snapshot = await any_store.snapshot(10)
    assert snapshot.shares == {"x:1": 10}
    assert _screen_counts(await any_store.events_after(PUBLIC, 0)) == snapshot.shares


async def test_shares_and_counted_retweets_survive_reopening(backend_url: str) -> None:
    """After a restart the count is still there and a replayed retweet still counts once."""
    from moderation.store import create_store

    store = create_store(backend_url)
    await store.open()
    await store.submit(make_post(1), APPROVED)
    await store.share("x:101", "x:1")
    await store.share("x:102", "x:1")
    await store.close()
    store = create_store(backend_url)
    await store.open()
    try:
        assert await store.share("x:102", "x:1") == 2
        assert await store.share("x:103", "x:1") == 3
        item = await store.get("x:1")
        assert item is not None and item.shares == 3
        assert (await store.snapshot(5)).shares == {"x:1": 3}
    finally:
        await store.close()


async def test_source_cursors_are_kept_per_source_and_key(any_store: Store) -> None:
    """A source's resume point is saved per key, replaced on write, and None when unknown."""
    assert await any_store.get_cursor("mastodon", "mastodon.social") is None
    await any_store.set_cursor("mastodon", "mastodon.social", "111")
    await any_store.set_cursor("mastodon", "piaille.fr", "7")
    await any_store.set_cursor("mastodon", "mastodon.social", "112")
    assert await any_store.get_cursor("mastodon", "mastodon.social") == "112"
    assert await any_store.get_cursor("mastodon", "piaille.fr") == "7"
    assert await any_store.get_cursor("bluesky", "mastodon.social") is None


async def test_counters_add_up_across_concurrent_calls(any_store: Store) -> None:
    """Counters start at zero and every concurrent addition is counted once."""
    assert await any_store.get_count("x.reads.2026-12") == 0
    totals = await asyncio.gather(*(any_store.add_count("x.reads.2026-12", 3) for _ in range(20)))
    assert sorted(totals) == list(range(3, 61, 3))
    assert await any_store.get_count("x.reads.2026-12") == 60
    assert await any_store.get_count("x.reads.2026-11") == 0
