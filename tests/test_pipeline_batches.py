"""The pipeline queues what arrives together in one write, as if it came one post at a time."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from moderation.post import Kind, Post, Status
from moderation.queue import PUBLIC, QueueItem
from moderation.rules import RuleSet
from moderation.store import Store, create_store
from server.pipeline import BATCH, Pipeline
from tests.utils import make_post

RULES = RuleSet(trusted_authors=frozenset({"trusted"}), blocked_words=("casino",))


def _stream(count: int) -> list[Post]:
    """Originals from several authors, retweets of them, blocked posts and edits."""
    posts: list[Post] = []
    for n in range(1, count + 1):
        handle = "trusted" if n % 3 == 0 else f"author{n % 7}"
        if n % 5 == 0 and n > 5:
            of = posts[n - 5]  # a retweet of a post a few places back
            if of.kind is not Kind.RETWEET:
                posts.append(make_post(n, text=f"RT @{of.author.handle}: {of.text}",
                                       handle="fan", kind=Kind.RETWEET, referenced=of))
                continue
        if n % 11 == 0:
            posts.append(make_post(n, text=f"casino bonus {n}", handle=handle))
        elif n % 13 == 0:
            posts.append(make_post(n, text=f"post {n - 2} corrected", handle=handle,
                                   edit_of=f"x:{n - 2}"))
        else:
            posts.append(make_post(n, handle=handle))
    return posts


async def _contents(store: Store, ids: list[str]) -> Any:
    """The queue as a moderator and a screen see it, without clock readings."""
    lists = {status.value: [(i.post.id, i.status, i.rule, i.reason, i.decided_by, i.shares)
                            for i in await store.list_items(status, 1000)]
             for status in Status}
    shown = [e.data["post"]["id"] for e in await store.events_after(PUBLIC, 0, 1000)
             if e.type == "post.shown"]
    snapshot = await store.snapshot(50)
    return [lists, shown, [p.id for p in snapshot.posts], snapshot.shares,
            await store.share_counts(ids)]


async def _open(url: str) -> Store:
    store = create_store(url)
    await store.open()
    return store


async def test_a_burst_is_queued_in_few_writes_like_one_post_at_a_time(
    backend_url: str, tmp_path: Any,
) -> None:
    """250 posts handed on at once take three writes and end as one by one would."""
    posts = _stream(250)
    ids = [p.id for p in posts]
    one_url = f"sqlite:///{tmp_path / 'one.sqlite3'}"
    one, many = await _open(one_url), await _open(backend_url)
    try:
        alone = Pipeline(one, RULES)
        await alone.start()
        for post in posts:
            await alone.ingest(post)
        together = Pipeline(many, RULES)
        await together.start()
        for post in posts:
            await together.offer(post)  # no store work happens until the writer runs
        await together.settled()
        assert together.batches == -(-len(posts) // BATCH) and alone.batches == len(posts)
        assert await _contents(many, ids) == await _contents(one, ids)
        pending = [i.post.id for i in await many.list_items(Status.PENDING, 1000)]
        assert pending == [i for i in ids if i in set(pending)]  # arrival order
        await alone.stop()
        await together.stop()
    finally:
        await one.close()
        await many.close()


async def test_the_rate_limit_counts_the_posts_of_one_batch(any_store: Store) -> None:
    """Each post of a batch is judged after the ones before it."""
    pipeline = Pipeline(any_store, RuleSet(rate_limit_posts=3))
    await pipeline.start()
    results = await asyncio.gather(*(pipeline.ingest(make_post(n, handle="bot"))
                                     for n in range(1, 7)))
    assert pipeline.batches == 1
    assert [(i.status, i.rule) for i in results if i is not None] == [
        (Status.PENDING, None)] * 3 + [(Status.REJECTED, "rate_limit")] * 3
    await pipeline.stop()


async def test_a_post_the_store_refuses_fails_alone_and_is_judged_once(
    any_store: Store,
) -> None:
    """Its neighbours in the batch are queued; the refused post's caller gets the error;
    the posts retried one by one keep their first verdict."""
    pipeline = Pipeline(any_store, RuleSet(rate_limit_posts=3))
    await pipeline.start()
    # Data that cannot be written as JSON: the store refuses the post.
    broken = make_post(2, handle="eve", extra={"unwritable": object()})
    outcomes = await asyncio.gather(
        pipeline.ingest(make_post(1, handle="eve")), pipeline.ingest(broken),
        pipeline.ingest(make_post(3, handle="eve")), return_exceptions=True)
    first, refused, third = outcomes
    assert isinstance(refused, TypeError)
    assert isinstance(first, QueueItem) and isinstance(third, QueueItem)
    # Judged twice, posts 1 and 3 would have counted twice and post 3 been rate limited.
    assert [first.status, third.status] == [Status.PENDING, Status.PENDING]
    assert await any_store.get("x:2") is None
    late = await pipeline.ingest(make_post(4, handle="eve"))
    assert late is not None and late.rule == "rate_limit"
    await pipeline.stop()


async def test_stopping_queues_what_was_handed_on(any_store: Store) -> None:
    """A source that stops hands its last posts on; the pipeline queues them before it ends."""
    pipeline = Pipeline(any_store, RULES)
    await pipeline.start()
    for n in range(1, 151):
        await pipeline.offer(make_post(n))
    await pipeline.stop()
    assert await any_store.count(Status.PENDING) == 150


@pytest.mark.parametrize("count", [1, BATCH + 1])
async def test_offer_and_ingest_keep_arrival_order(any_store: Store, count: int) -> None:
    """Posts handed on without waiting and posts waited for share one order."""
    pipeline = Pipeline(any_store, RULES)
    await pipeline.start()
    for n in range(1, count + 1):
        await pipeline.offer(make_post(n))
    last = await pipeline.ingest(make_post(count + 1))
    assert last is not None and last.status is Status.PENDING
    pending = [i.post.id for i in await any_store.list_items(Status.PENDING, 1000)]
    assert pending == [f"x:{n}" for n in range(1, count + 2)]
    await pipeline.stop()
