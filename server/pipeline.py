"""From a normalised post to the queue: retweet policy and count, rules in force, submit."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from typing import Any

from moderation.exceptions import InvalidRules
from moderation.post import Post
from moderation.queue import QueueItem
from moderation.rules import RuleContext, RuleSet, admit, evaluate, remember
from moderation.ruleset_config import rules_from_dict, rules_to_dict
from moderation.store import Store, StoreUnavailable
from moderation.wall_state import Mode
from server.backlog import Backlog
from server.settings import RetweetPolicy, Settings

logger = logging.getLogger(__name__)


class Pipeline:
    """The one path every source's posts take into the moderation queue.

    The rules and the mode in force live in the store (so a console edit reaches every
    process); `seed` and `mode` only start a fresh store. The rate limit and flood memory
    (`context`) is this process's own.
    """

    def __init__(self, store: Store, rules: RuleSet, retweet_policy: RetweetPolicy | None = None,
                 *, mode: Mode = Mode.PRE, clock: Callable[[], float] = time.time) -> None:
        if retweet_policy is not None:
            rules = dataclasses.replace(rules, retweets=retweet_policy.value)
        self.store = store
        self.seed = rules
        self.mode = mode
        self.rules = rules
        self.context = RuleContext()
        self.clock = clock
        self.received = 0
        self._stored: dict[str, Any] | None = None
        self.backlog = Backlog(self._queue)

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
        """Queue a post under the rules in force; return its item (for a retweet, the item of
        its original, with the retweet counted), or None when skipped.

        While the store is unreachable the post waits in the backlog (None is returned) and
        is queued, in arrival order, when the store returns.
        """
        self.received += 1
        if self.backlog:
            await self.backlog.hold(post)
            return None
        try:
            return await self._queue(post)
        except StoreUnavailable as exc:
            await self.backlog.hold(post, exc)
            return None

    async def stop(self) -> None:
        """Stop queueing the posts that wait for the store."""
        await self.backlog.stop()

    async def _queue(self, post: Post) -> QueueItem | None:
        rules = await self.current_rules()
        admitted = admit(post, rules)
        if admitted is None:
            return None
        if admitted is post:
            return await self._submit(post, rules)
        # A retweet is never queued itself: its original is, once, and the retweet counts
        # toward it. Replayed (a reconnect, a restart, the backlog) it is counted once.
        item = await self.store.get(admitted.id) or await self._submit(admitted, rules)
        item.shares = await self.store.share(post.id, admitted.id)
        return item

    async def _submit(self, post: Post, rules: RuleSet) -> QueueItem:
        state = await self.store.wall_state()
        now = self.clock()
        verdict = evaluate(post, rules, self.context, now, state.mode is Mode.POST)
        item, created = await self.store.submit(post, verdict)
        if created:
            remember(self.context, post, verdict, now, rules)
        return item


def pipeline_for(settings: Settings, store: Store) -> Pipeline:
    """The pipeline the settings ask for; call `start` once the store is open."""
    from server.state import rules_from

    return Pipeline(store, rules_from(settings), mode=Mode(settings.moderation_mode.value))
