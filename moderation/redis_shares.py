"""The Redis store's share counts: retweets counted toward their original."""

from __future__ import annotations

import time
from typing import Any

from moderation.exceptions import UnknownPost
from moderation.redis_base import RedisBase, translated
from moderation.redis_changes import Changes
from moderation.shares import plan_share


class RedisShares(RedisBase):
    """Mixed into `RedisStore`: each retweet id is counted once, in the `shares` hash."""

    @translated
    async def share(self, retweet_id: str, original_id: str) -> int:
        async def plan() -> tuple[Changes | None, int]:
            counted: Any = await self.redis.hget(self.keys.shares, retweet_id)
            if counted is not None:
                # Counted already (a replay), or our own attempt landed and its reply was lost.
                record = await self._record(counted)
                return None, record.item.shares if record else 0
            record = await self._record(original_id)
            if record is None:
                raise UnknownPost(f"no post with id {original_id!r} in the queue to count "
                                  f"retweet {retweet_id!r} toward")
            before = record.item.shares
            changes = Changes(self.keys, time.time(), self._token())
            changes.require_field(self.keys.shares, retweet_id, None)
            # A new version, so that a decision planned on the old count plans again and
            # shows the post with the count the screens must have.
            changes.require(record)
            record.version += 1
            changes.write("hset", self.keys.shares, {retweet_id: original_id})
            changes.write("hset", self.keys.post(original_id),
                          {"shares": str(before + 1), "v": str(record.version)})
            for channel, type_, data in plan_share(original_id, record.item.status, before,
                                                   before + 1):
                changes.event(channel, type_, data)
            return changes, before + 1

        return await self._change(plan, f"count retweet {retweet_id}")

    @translated
    async def share_counts(self, post_ids: list[str]) -> dict[str, int]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for post_id in post_ids:
                pipe.hget(self.keys.post(post_id), "shares")
            counts = await pipe.execute()
        return {post_id: int(n) for post_id, n in zip(post_ids, counts, strict=True) if n}
