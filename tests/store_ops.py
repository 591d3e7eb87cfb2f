"""Random store operations, their outcomes and everything a store lets anyone read: the
material of the tests that compare two stores."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from moderation.exceptions import ModerationError
from moderation.post import Post, Status
from moderation.queue import CHANNELS, Action, Verdict
from moderation.store import Store
from moderation.wall_state import Mode
from tests.utils import make_post

VERDICTS = [Verdict(Status.PENDING), Verdict(Status.APPROVED, "trusted_author"),
            Verdict(Status.REJECTED, "blocked_word", "casino")]
MODERATORS = ["ana", "ben"]
# Clock readings differ between two runs; everything else must be equal.
TIMES = {"at", "received_at", "updated_at"}

post_numbers = st.integers(1, 6)
submits = st.tuples(st.just("submit"), post_numbers, st.sampled_from(range(len(VERDICTS))),
                    st.one_of(st.none(), post_numbers))
decisions = st.tuples(st.just("decide"), post_numbers, st.sampled_from(list(Action)),
                      st.sampled_from(MODERATORS), st.sampled_from([None, "r1", "r2"]))
# Several posts queued at once, and several retweets counted at once, as the pipeline
# does in a burst.
batches = st.tuples(st.just("batch"), st.lists(submits, min_size=1, max_size=6))
shares = st.tuples(st.just("share"), st.integers(1, 8), post_numbers)
share_batches = st.tuples(st.just("shares"), st.lists(shares.map(lambda s: s[1:]), min_size=1,
                                                      max_size=5))
operations = st.one_of(
    submits, batches, decisions, decisions, decisions,
    st.tuples(st.just("undo"), st.sampled_from(MODERATORS), st.sampled_from([None, "r1", "r3"])),
    st.tuples(st.just("pin"), post_numbers, st.sampled_from(MODERATORS)),
    st.tuples(st.just("unpin"), st.sampled_from(MODERATORS)),
    st.tuples(st.just("pause"), st.booleans()),
    st.tuples(st.just("mode"), st.sampled_from(list(Mode))),
    st.tuples(st.just("announce"), st.integers(1, 2)),
    st.tuples(st.just("claim"), st.sampled_from(MODERATORS), st.integers(1, 3),
              st.integers(0, 3)),
    st.tuples(st.just("release"), st.sampled_from(MODERATORS)),
    st.tuples(st.just("expire"), st.integers(0, 3)),
    st.tuples(st.just("rules"), st.integers(0, 2)),
    shares, shares, share_batches,
)


def plain(value: Any) -> Any:
    """The value with clock readings blanked, for comparing two runs."""
    if isinstance(value, dict):
        return {k: None if k in TIMES else plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def _entry(n: int, verdict: int, edit_of: int | None) -> tuple[Post, Verdict]:
    """Post number `n` (an edit of post `edit_of`) and the verdict of the rules on it."""
    return make_post(n, edit_of=f"x:{edit_of}" if edit_of and edit_of != n else None), (
        VERDICTS[verdict])


async def apply(store: Store, op: tuple[Any, ...]) -> Any:
    name, *args = op
    if name == "submit":
        item, created = await store.submit(*_entry(*args))
        return item.to_dict(), created
    if name == "batch":
        done = await store.submit_many([_entry(*submit[1:]) for submit in args[0]])
        return [(item.to_dict(), created) for item, created in done]
    if name == "decide":
        n, action, moderator, ref = args
        d = await store.decide(f"x:{n}", action, moderator, ref=ref)
        return d.post_id, d.action, d.before, d.after, d.repeat
    if name == "undo":
        d = await store.undo(*args)
        return d.post_id, d.action, d.before, d.after, d.repeat
    if name == "pin":
        return await store.pin(f"x:{args[0]}", args[1])
    if name == "unpin":
        return await store.unpin(args[0])
    if name == "pause":
        return await store.set_paused(args[0], "ana")
    if name == "mode":
        return await store.set_mode(args[0], "ana")
    if name == "announce":
        from moderation.wall_state import make_announcement

        post = make_announcement(f"welcome {args[0]}", f"k{args[0]}", "Team", "2014-08-27")
        item, created = await store.announce(post, "ana")
        return item.to_dict(), created
    if name == "claim":
        moderator, size, minute = args
        return await store.claim(moderator, size, 120.0, now=1000.0 + 60 * minute)
    if name == "release":
        return await store.release(args[0])
    if name == "expire":
        return await store.release_expired(now=1000.0 + 60 * args[0])
    if name == "share":
        return await store.share(f"x:{100 + args[0]}", f"x:{args[1]}")
    if name == "shares":
        return await store.share_many([(f"x:{100 + r}", f"x:{n}") for r, n in args[0]])
    await store.put_rules({"blocked_words": [f"word{args[0]}"]}, "ben")
    return None


async def state(store: Store) -> Any:
    """Everything a screen, a console or an export can read from a store."""
    seq, posts = snapshot = await store.snapshot(50)
    items = {s.value: [i.to_dict() for i in await store.list_items(s, 50)] for s in Status}
    events = {c: [(e.seq, e.type, e.data) for e in await store.events_after(c, 0, 1000)]
              for c in CHANNELS}
    audit = [e.to_dict() for e in await store.audit(1000)]
    pinned = snapshot.pinned.id if snapshot.pinned else None
    shares = await store.share_counts([f"x:{n}" for n in range(1, 7)])
    return plain([seq, [p.id for p in posts], pinned, snapshot.paused, items, events, audit,
                   (await store.wall_state()).to_dict(), await store.get_rules(),
                   snapshot.shares, shares])


async def run(store: Store, ops: list[tuple[Any, ...]]) -> list[Any]:
    outcomes = []
    for op in ops:
        try:
            outcomes.append(plain(await apply(store, op)))
        except ModerationError as exc:
            outcomes.append(type(exc).__name__)
    return [outcomes, await state(store)]
