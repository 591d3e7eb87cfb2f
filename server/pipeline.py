"""From a normalised post to the queue: retweet policy, automatic rules, submit."""

from __future__ import annotations

import logging

from moderation.post import Kind, Post
from moderation.queue import QueueItem
from moderation.rules import RuleSet, evaluate
from moderation.store import Store
from server.settings import RetweetPolicy

logger = logging.getLogger(__name__)


class Pipeline:
    """The one path every source's posts take into the moderation queue."""

    def __init__(self, store: Store, rules: RuleSet, retweet_policy: RetweetPolicy) -> None:
        self.store = store
        self.rules = rules
        self.retweet_policy = retweet_policy
        self.received = 0

    async def ingest(self, post: Post) -> QueueItem | None:
        """Queue a post under the rules in force; return its item, or None when skipped."""
        self.received += 1
        if post.kind is Kind.RETWEET:
            # A retweet is never shown itself: the room would see the same words twice.
            if self.retweet_policy is RetweetPolicy.DROP or post.referenced is None:
                return None
            post = post.referenced
        item, _ = await self.store.submit(post, evaluate(post, self.rules))
        return item
