"""The queue against a simple model: any sequence of ingests, decisions, undos, concurrent
decisions, re-sends, pins and restarts keeps the invariants."""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from moderation.exceptions import DecisionConflict, InvalidAction, ModerationError, UnknownPost
from moderation.post import Status
from moderation.queue import ALLOWED_FROM, PUBLIC, RESULT, Action, Verdict
from moderation.shares import screen_shares
from moderation.stores.sqlite import SQLiteStore
from tests.utils import make_post

POSTS = st.integers(min_value=1, max_value=4)
ACTIONS = st.sampled_from(list(Action))
MODERATORS = st.sampled_from(["ana", "ben"])
VERDICTS = {
    "pending": Verdict(Status.PENDING),
    "trusted": Verdict(Status.APPROVED, "trusted_author"),
    "blocked": Verdict(Status.REJECTED, "blocked_word"),
}


@dataclass
class Done:
    """A decision the model remembers for undo: it moved a post from `before` to `after`."""

    post: str
    before: Status
    after: Status
    undone: bool = False


class QueueModel(RuleBasedStateMachine):
    """SQLiteStore, closed and reopened at will, against dictionaries."""

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.folder = Path(tempfile.mkdtemp(prefix="queue-model-"))
        self.url = f"sqlite:///{self.folder / 'model.sqlite3'}"
        self.store = self._open()
        self.status: dict[str, Status] = {}
        # Who let each approved post reach the screens: a moderator or the trust rule.
        self.approved_by: dict[str, str] = {}
        self.done: dict[str, list[Done]] = {"ana": [], "ben": []}
        self.pinned: str | None = None
        self.refs: dict[tuple[str, str], Status] = {}
        self.counter = 0
        self.shared: dict[str, str] = {}  # retweet id -> the post it counted toward

    def run(self, coroutine):  # type: ignore[no-untyped-def]
        return self.loop.run_until_complete(coroutine)

    def _open(self) -> SQLiteStore:
        store = SQLiteStore(self.url)
        self.run(store.open())
        return store

    def teardown(self) -> None:
        self.run(self.store.close())
        self.loop.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _move(self, post: str, after: Status, by: str) -> None:
        self.status[post] = after
        if after is Status.APPROVED:
            self.approved_by[post] = by
        else:
            self.approved_by.pop(post, None)
            if self.pinned == post:
                self.pinned = None

    @rule(n=POSTS, verdict=st.sampled_from(sorted(VERDICTS)))
    def ingest(self, n: int, verdict: str) -> None:
        item, created = self.run(self.store.submit(make_post(n), VERDICTS[verdict]))
        post = f"x:{n}"
        assert created is (post not in self.status)
        if created:
            self.status[post] = item.status
            if item.status is Status.APPROVED:
                self.approved_by[post] = "rules:trusted"
        assert item.status is self.status[post]

    def _expect(self, post: str, action: Action, expected: Status | None) -> type | None:
        if post not in self.status:
            return UnknownPost
        current = self.status[post]
        if expected is not None and expected is not current:
            return DecisionConflict
        return None if current in ALLOWED_FROM[action] else DecisionConflict

    @rule(n=POSTS, action=ACTIONS, moderator=MODERATORS, stale=st.booleans())
    def decide(self, n: int, action: Action, moderator: str, stale: bool) -> None:
        post = f"x:{n}"
        seen = self.status.get(post)
        expected = (Status.HIDDEN if seen is not Status.HIDDEN else Status.PENDING) if stale \
            else seen
        failure = self._expect(post, action, expected)
        self.counter += 1
        ref = f"r{self.counter}"
        try:
            decision = self.run(self.store.decide(post, action, moderator, expected, ref))
        except ModerationError as exc:
            assert failure is not None and isinstance(exc, failure), (exc, failure)
            return
        assert failure is None, f"{action} on {seen} should have failed"
        before = self.status[post]
        self._move(post, RESULT[action], moderator)
        self.done[moderator].append(Done(post, before, RESULT[action]))
        self.refs[(moderator, ref)] = RESULT[action]
        assert decision.after is RESULT[action] and not decision.repeat

    @precondition(lambda self: self.refs)
    @rule(data=st.data())
    def resend(self, data: st.DataObject) -> None:
        """A decision re-sent with its ref is answered as a repeat and changes nothing."""
        (moderator, ref), after = data.draw(st.sampled_from(sorted(self.refs.items())))
        decision = self.run(self.store.decide("x:1", Action.APPROVE, moderator, None, ref))
        assert decision.repeat and decision.after is after

    @rule(n=POSTS, first=ACTIONS, second=ACTIONS)
    def concurrent(self, n: int, first: Action, second: Action) -> None:
        """Two moderators decide on one post at the same moment: at most one applies."""
        post = f"x:{n}"
        seen = self.status.get(post)

        async def both() -> list[object]:
            return await asyncio.gather(
                self.store.decide(post, first, "ana", seen),
                self.store.decide(post, second, "ben", seen),
                return_exceptions=True,
            )

        results = self.run(both())
        applied = [(who, r) for who, r in zip(("ana", "ben"), results, strict=True)
                   if not isinstance(r, BaseException)]
        assert len(applied) <= 1
        for result in results:
            if isinstance(result, BaseException):
                assert isinstance(result, ModerationError), result
        if applied:
            who, decision = applied[0]
            action = first if who == "ana" else second
            assert self._expect(post, action, seen) is None
            self._move(post, RESULT[action], who)
            self.done[who].append(Done(post, decision.before, RESULT[action]))
        else:
            assert self._expect(post, first, seen) is not None

    @rule(moderator=MODERATORS)
    def undo(self, moderator: str) -> None:
        left = [d for d in self.done[moderator] if not d.undone]
        try:
            decision = self.run(self.store.undo(moderator))
        except InvalidAction:
            assert not left
            return
        except DecisionConflict:
            assert left and self.status[left[-1].post] is not left[-1].after
            return
        last = left[-1]
        assert (decision.post_id, decision.after) == (last.post, last.before)
        assert self.status[last.post] is last.after
        last.undone = True
        self._move(last.post, last.before, f"undo:{moderator}")
        if last.before is Status.APPROVED:
            # Approved again by undoing a hide: a moderator's doing all the same.
            self.approved_by[last.post] = moderator

    @rule(n=POSTS)
    def pin(self, n: int) -> None:
        post = f"x:{n}"
        try:
            self.run(self.store.pin(post, "ana"))
        except (UnknownPost, DecisionConflict):
            assert self.status.get(post) is not Status.APPROVED
            return
        assert self.status[post] is Status.APPROVED
        self.pinned = post

    @rule(retweet=st.integers(min_value=1, max_value=6), n=POSTS)
    def share(self, retweet: int, n: int) -> None:
        """A retweet counts once toward a queued post, replayed or not."""
        retweet_id, post = f"x:{100 + retweet}", f"x:{n}"
        try:
            count = self.run(self.store.share(retweet_id, post))
        except UnknownPost:
            assert retweet_id not in self.shared and post not in self.status
            return
        self.shared.setdefault(retweet_id, post)
        assert count == sum(p == self.shared[retweet_id] for p in self.shared.values())

    @rule()
    def restart(self) -> None:
        """Close the store and open the same file again, as a server restart does."""
        self.run(self.store.close())
        self.store = self._open()

    @invariant()
    def one_status_per_post(self) -> None:
        for post, status in self.status.items():
            item = self.run(self.store.get(post))
            assert item is not None and item.status is status, (post, item, status)
        assert self.run(self.store.count(Status.PENDING)) == sum(
            s is Status.PENDING for s in self.status.values())

    @invariant()
    def nothing_unapproved_is_visible(self) -> None:
        snapshot = self.run(self.store.snapshot(100))
        shown = {p.id for p in snapshot.posts}
        assert shown == {p for p, s in self.status.items() if s is Status.APPROVED}
        # Pre-moderation: only a moderator or the trust rule puts a post on the screens.
        assert set(self.approved_by) == shown
        assert all(by == "rules:trusted" or by in ("ana", "ben") or by.startswith("undo:")
                   for by in self.approved_by.values())
        assert (snapshot.pinned.id if snapshot.pinned else None) == self.pinned

    @invariant()
    def replaying_the_event_log_gives_the_screen_state(self) -> None:
        screen: list[str] = []
        shares: dict[str, int] = {}
        pinned = None
        after = 0
        while events := self.run(self.store.events_after(PUBLIC, after)):
            for event in events:
                assert event.seq == after + 1  # no gap
                after = event.seq
                if event.type == "post.shown":
                    assert event.data["post"]["id"] not in screen  # no duplicate
                    screen.insert(0, event.data["post"]["id"])
                    if "shares" in event.data:
                        shares[event.data["post"]["id"]] = event.data["shares"]
                elif event.type == "post.retracted":
                    screen.remove(event.data["id"])
                    shares.pop(event.data["id"], None)
                elif event.type == "post.shares":
                    assert event.data["id"] in screen  # only a shown post's count
                    shares[event.data["id"]] = event.data["shares"]
                elif event.type == "post.pinned":
                    pinned = event.data["id"]
                elif event.type == "post.unpinned":
                    pinned = None
        snapshot = self.run(self.store.snapshot(100))
        assert snapshot.seq == after
        assert screen == [p.id for p in snapshot.posts]
        assert pinned == self.pinned
        assert shares == snapshot.shares
        counts = {p: sum(o == p for o in self.shared.values()) for p in self.shared.values()}
        assert shares == {p: screen_shares(n) for p, n in counts.items() if p in screen}

    @invariant()
    def no_replay_carries_a_post_that_is_not_approved_now(self) -> None:
        last = self.run(self.store.last_seq(PUBLIC))
        hidden = {p: self.run(self.store.get(p)) for p, s in self.status.items()
                  if s is not Status.APPROVED}
        texts = {p: item.post.text for p, item in hidden.items() if item is not None}
        for since in sorted({0, min(1, last), last // 3, last // 2, max(last - 1, 0), last}):
            after = since
            while events := self.run(self.store.replay(PUBLIC, after)):
                for event in events:
                    assert event.seq == after + 1  # a redacted event keeps its place
                    after = event.seq
                    post = event.data.get("post")
                    assert post is None or post["id"] not in hidden, (since, event)
                    wire = json.dumps(event.message(), ensure_ascii=False)
                    assert not any(text in wire for text in texts.values()), (since, event)
            assert after == last


QueueModel.TestCase.settings = settings(max_examples=150, stateful_step_count=40,
                                        deadline=None)
TestQueueModel = QueueModel.TestCase
