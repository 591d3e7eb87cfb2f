"""The Redis store's share counts: retweets counted toward their original."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from moderation.exceptions import UnknownPost
from moderation.redis_base import RedisBase, translated
from moderation.redis_changes import Changes
from moderation.shares import plan_share


class RedisShares(RedisBase):
    """Mixed into `RedisStore`: each retweet id is counted once, in the `shares` hash."""

    @translated
    async def share(self, retweet_id: str, original_id: str) -> int:
        return (await self._share([(retweet_id, original_id)]))[0]

    @translated
    async def share_many(self, shares: Sequence[tuple[str, str]]) -> list[int]:
        return await self._share(shares) if shares else []

    async def _share(self, shares: Sequence[tuple[str, str]]) -> list[int]:
        retweets = list(dict.fromkeys(retweet for retweet, _ in shares))

        async def plan() -> tuple[Changes | None, list[int]]:
            counted: Any = await self.redis.hmget(self.keys.shares, retweets)
            toward = dict(zip(retweets, counted, strict=True))
            # Counted already (a replay), or our own attempt landed and its reply was lost:
            # the count of the post it was counted toward.
            ids = list(dict.fromkeys([*(o for _, o in shares), *(c for c in counted if c)]))
            found, _, _ = await self._read_records(ids)
            changes = Changes(self.keys, time.time(), self._token())
            guarded: set[str] = set()
            counts: list[int] = []
            for retweet, original in shares:
                if toward[retweet] is not None:
                    record = found[toward[retweet]]
                    counts.append(record.item.shares if record else 0)
                    continue
                record = found[original]
                if record is None:
                    raise UnknownPost(f"no post with id {original!r} in the queue to count "
                                      f"retweet {retweet!r} toward")
                if original not in guarded:
                    # A new version, so that a decision planned on the old count plans again
                    # and shows the post with the count the screens must have.
                    changes.require(record)
                    guarded.add(original)
                changes.require_field(self.keys.shares, retweet, None)
                toward[retweet] = original
                before = record.item.shares
                record.item.shares = before + 1
                record.version += 1
                changes.write("hset", self.keys.shares, {retweet: original})
                changes.write("hset", self.keys.post(original),
                              {"shares": str(before + 1), "v": str(record.version)})
                for channel, type_, data in plan_share(original, record.item.status, before,
                                                       before + 1):
                    changes.event(channel, type_, data)
                counts.append(before + 1)
            return (changes if guarded else None), counts

        return await self._change(plan, f"count {len(shares)} retweets")

    @translated
    async def share_counts(self, post_ids: list[str]) -> dict[str, int]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for post_id in post_ids:
                pipe.hget(self.keys.post(post_id), "shares")
            counts = await pipe.execute()
        return {post_id: int(n) for post_id, n in zip(post_ids, counts, strict=True) if n}
