"""From a normalised post to the queue: retweet policy and count, rules in force, and a
writer that queues what arrives together in one write."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable
from typing import Any

from moderation.exceptions import DecisionConflict, InvalidRules, UnknownPost
from moderation.post import Post, Status
from moderation.queue import Action, QueueItem, Verdict
from moderation.rules import RuleContext, RuleSet, admit, evaluate, remember
from moderation.ruleset_config import rules_from_dict, rules_to_dict
from moderation.store import Store, StoreUnavailable
from moderation.text_cap import capped
from moderation.wall_state import Mode
from server.backlog import Backlog
from server.settings import RetweetPolicy, Settings

logger = logging.getLogger(__name__)


# Posts handed on and not queued yet, at most; past that a source waits for room.
INTAKE = 1_000
# Posts queued in one write to the store, at most.
BATCH = 100
# How long a stopping pipeline keeps queueing the posts already handed on.
STOP_GRACE = 10.0


@dataclasses.dataclass(frozen=True, slots=True)
class Retraction:
    """A post its author deleted on its network, waiting in line behind the posts before it."""

    post_id: str
    reason: str

    @property
    def actor(self) -> str:
        """Who the audit log names: the network, with the plain reason."""
        network = self.post_id.partition(":")[0] or "source"
        return f"{network}: {self.reason}"


# What a retraction does to a post, by its status: shown posts leave every screen at once,
# waiting posts are turned down; rejected or hidden posts stay as they are.
RETRACT: dict[Status, Action] = {Status.APPROVED: Action.HIDE, Status.PENDING: Action.REJECT}

_Entry = tuple["Post | Retraction", "asyncio.Future[QueueItem | None] | None"]


class Pipeline:
    """The one path every source's posts take into the moderation queue.

    Posts are queued in arrival order by one writer task. It takes every post waiting when
    it is free, up to BATCH, and writes them to the store at once: the rules and the wall
    state are read once per batch, and one commit (one fsync on Redis) covers the batch.
    A lone post goes through alone, so a quiet stream waits for nothing.

    The rules and the mode in force live in the store (so a console edit reaches every
    process, from the next batch on); `seed` and `mode` only start a fresh store. The rate
    limit and flood memory (`context`) is this process's own.
    """

    def __init__(self, store: Store, rules: RuleSet, retweet_policy: RetweetPolicy | None = None,
                 *, mode: Mode = Mode.PRE, clock: Callable[[], float] = time.time,
                 always_held: frozenset[str] = frozenset()) -> None:
        if retweet_policy is not None:
            rules = dataclasses.replace(rules, retweets=retweet_policy.value)
        self.store = store
        self.seed = rules
        self.mode = mode
        self.rules = rules
        self.context = RuleContext()
        self.clock = clock
        # Networks whose posts always wait for a moderator, whatever the mode or trust.
        self.always_held = always_held
        self.received = 0
        self.batches = 0  # writes that queued posts
        self._stored: dict[str, Any] | None = None
        self.backlog = Backlog(self._queue_one)
        self._intake: asyncio.Queue[_Entry] = asyncio.Queue(INTAKE)
        self.retracted = 0  # posts taken back because their author deleted them
        self._writer: asyncio.Task[None] | None = None
        # Verdicts of posts judged but not stored yet (the store failed): a post is judged,
        # and counted by the rate limit and flood memory, once however often it is retried.
        self._verdicts: dict[str, Verdict] = {}

    async def start(self) -> None:
        """Seed a fresh store with the configured rules and mode; keep rules edited live."""
        stored = await self.store.get_rules()
        if stored is None:
            await self.store.put_rules(rules_to_dict(self.seed), "settings")
            await self.store.set_mode(self.mode, "settings")
        elif stored != rules_to_dict(self.seed):
            logger.info("the rules edited from the console are in force; the configured rules "
                        "only seed a fresh store")

    async def current_rules(self) -> RuleSet:
        """The rules in force, read from the store; parsed again only when they change."""
        stored = await self.store.get_rules()
        if stored is None or stored == self._stored:
            return self.rules if stored is not None else self.seed
        try:
            self.rules = rules_from_dict(stored)
        except InvalidRules:
            logger.exception("the stored rules are unusable; keeping the previous ones")
        self._stored = stored
        return self.rules

    async def ingest(self, post: Post) -> QueueItem | None:
        """Queue a post under the rules in force and wait for it; return its item (for a
        retweet, the item of its original, with the retweet counted), or None when skipped.

        While the store is unreachable the post waits in the backlog (None is returned) and
        is queued, in arrival order, when the store returns. A post the store refuses
        raises here.
        """
        done: asyncio.Future[QueueItem | None] = asyncio.get_running_loop().create_future()
        await self._hand_on(post, done)
        return await done

    async def offer(self, post: Post) -> None:
        """Hand a post on to be queued in arrival order, without waiting for the store:
        what a source calls. Waits only while INTAKE posts are still to be queued; a post
        the store refuses is logged."""
        await self._hand_on(post, None)

    async def retract(self, post_id: str, reason: str) -> None:
        """Take back a post its author deleted on its network, after the posts handed on
        before it: shown → hidden from every screen, pending → rejected, audited with the
        network and `reason` as actor; an unknown id (or one already rejected or hidden) is
        ignored. What a source calls; does not wait for the store."""
        await self._hand_on(Retraction(post_id, reason), None)

    @property
    def in_line(self) -> int:
        """Posts handed on and not queued yet (nor in the backlog)."""
        return self._intake.qsize()

    async def settled(self) -> None:
        """Wait until every post handed on so far is queued, skipped or in the backlog."""
        await self._intake.join()

    async def stop(self) -> None:
        """Queue the posts already handed on (for STOP_GRACE at most), then stop; the posts
        still waiting for the store are lost with the process, and said so."""
        if self._writer is not None:
            try:
                await asyncio.wait_for(self.settled(), STOP_GRACE)
            except TimeoutError:
                logger.error("stopping with %d posts handed on and never queued",
                             self._intake.qsize())
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
        while not self._intake.empty():
            _post, done = self._intake.get_nowait()
            self._intake.task_done()
            if done is not None:
                done.cancel()
        await self.backlog.stop()

    async def _hand_on(self, post: Post | Retraction,
                       done: asyncio.Future[QueueItem | None] | None) -> None:
        if isinstance(post, Post):
            self.received += 1
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(), name="pipeline")
        await self._intake.put((post, done))

    async def _write(self) -> None:
        """The writer task: queue what waits, a batch at a time, for as long as it runs; a
        retraction goes alone, in its place in the line."""
        carried: _Entry | None = None
        while True:
            entry, carried = carried or await self._intake.get(), None
            first, waiter = entry
            if isinstance(first, Retraction):
                try:
                    await self._retract(first)
                finally:
                    self._intake.task_done()
                continue
            batch: list[tuple[Post, asyncio.Future[QueueItem | None] | None]] = [(first, waiter)]
            while len(batch) < BATCH and not self._intake.empty():
                following = self._intake.get_nowait()
                if isinstance(following[0], Retraction):
                    carried = following
                    break
                batch.append((following[0], following[1]))
            try:
                await self._write_batch(batch)
            finally:
                for _post, done in batch:
                    self._intake.task_done()
                    if done is not None and not done.done():
                        done.cancel()  # the writer was stopped in the middle of this batch

    async def _write_batch(
        self, batch: list[tuple[Post, asyncio.Future[QueueItem | None] | None]],
    ) -> None:
        posts = [post for post, _ in batch]
        outcomes: list[QueueItem | BaseException | None]
        if self.backlog:
            outcomes = [None] * len(posts)
            for post in posts:
                await self.backlog.hold(post)
        else:
            try:
                outcomes = list(await self._queue(posts))
            except StoreUnavailable as exc:
                outcomes = [None] * len(posts)
                for post in posts:
                    await self.backlog.hold(post, exc)
            except Exception:
                # One post the store refuses must not take its neighbours down: alone, each
                # post is queued or fails on its own.
                outcomes = [await self._queue_alone(post) for post in posts]
        for (post, done), outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                self._verdicts.pop(post.id, None)
                if done is None:
                    logger.error("post %s could not be queued", post.id, exc_info=outcome)
            if done is None or done.done():
                continue
            if isinstance(outcome, BaseException):
                done.set_exception(outcome)
            else:
                done.set_result(outcome)

    async def _retract(self, retraction: Retraction) -> None:
        """Apply one retraction; never raise (the writer goes on)."""
        try:
            item = await self.store.get(retraction.post_id)
            action = RETRACT.get(item.status) if item is not None else None
            if action is None:
                return
            await self.store.decide(retraction.post_id, action, retraction.actor,
                                    expected=item.status if item is not None else None)
            self.retracted += 1
        except (UnknownPost, DecisionConflict):
            return  # gone, or decided meanwhile: nothing left to take back
        except Exception:
            logger.exception("post %s deleted by its author could not be taken back",
                             retraction.post_id)

    async def _queue_alone(self, post: Post) -> QueueItem | BaseException | None:
        if self.backlog:
            await self.backlog.hold(post)
            return None
        try:
            return await self._queue_one(post)
        except StoreUnavailable as exc:
            await self.backlog.hold(post, exc)
            return None
        except Exception as exc:
            return exc

    async def _queue_one(self, post: Post) -> QueueItem | None:
        return (await self._queue([post]))[0]

    async def _queue(self, posts: list[Post]) -> list[QueueItem | None]:
        """Queue posts in order: each post's item (for a retweet, its original's), or None."""
        rules = await self.current_rules()
        state = await self.store.wall_state()
        # A retweet is never queued itself: its original is, once, and the retweet counts
        # toward it. Replayed (a reconnect, a restart, the backlog) it is counted once.
        # Text past any network's own limit is cut here, for every source alike.
        admitted = [capped(a) if (a := admit(post, rules)) is not None else None
                    for post in posts]
        wanted = [post for post in admitted if post is not None]
        items = await self.store.get_many([post.id for post in wanted])
        entries: dict[str, tuple[Post, Verdict]] = {}
        for post in wanted:
            if post.id not in items and post.id not in entries:
                entries[post.id] = (post, self._judge(post, rules, state.mode is Mode.POST))
        done = await self.store.submit_many(list(entries.values()))
        for (item, _created), post_id in zip(done, entries, strict=True):
            items[post_id] = item
            self._verdicts.pop(post_id, None)
        # The retweets are counted together, once the posts they count toward are queued.
        retweets = [(post.id, original.id) for post, original in zip(posts, admitted, strict=True)
                    if original is not None and original is not post]
        counts = iter(await self.store.share_many(retweets))
        results: list[QueueItem | None] = []
        for post, original in zip(posts, admitted, strict=True):
            if original is None:
                results.append(None)
            elif original is post:
                results.append(items[original.id])
            else:
                results.append(dataclasses.replace(items[original.id], shares=next(counts)))
        self.batches += 1
        return results

    def _judge(self, post: Post, rules: RuleSet, post_moderation: bool) -> Verdict:
        """The verdict on a post not queued yet; the first verdict on it sticks, and it is
        remembered by the rate limit and flood memory once."""
        verdict = self._verdicts.get(post.id)
        if verdict is None:
            now = self.clock()
            verdict = held(evaluate(post, rules, self.context, now, post_moderation
                                    and post.network not in self.always_held),
                           post.network in self.always_held)
            remember(self.context, post, verdict, now, rules)
            self._verdicts[post.id] = verdict
        return verdict


def held(verdict: Verdict, always: bool) -> Verdict:
    """The verdict, turned into a hold when the post's network always waits for a
    moderator and the rules would have shown it at once."""
    if always and verdict.status is Status.APPROVED:
        return Verdict(Status.PENDING, "onsite",
                       f"sent from a phone: waits for a moderator ({verdict.reason})")
    return verdict


def pipeline_for(settings: Settings, store: Store) -> Pipeline:
    """The pipeline the settings ask for; call `start` once the store is open."""
    from server.state import rules_from

    held_networks = frozenset() if settings.onsite_post_moderation else frozenset({"onsite"})
    return Pipeline(store, rules_from(settings), mode=Mode(settings.moderation_mode.value),
                    always_held=held_networks)
