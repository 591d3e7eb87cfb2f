"""Profiles from the fake AppView: batches of 25, labels, the cache, DID documents."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from server.sources.bluesky.exceptions import AppViewError
from server.sources.bluesky.profiles import AppView, ProfileCache, ProfileResolver
from tests.fake_bluesky.appview import running_appview

TIMEOUT = 10.0


async def test_many_authors_are_read_25_at_a_time() -> None:
    """Sixty authors asked for at once are read in calls of at most 25, each once."""
    async with running_appview() as fake, aiohttp.ClientSession() as session:
        dids = sorted(fake.docs)[:60]
        resolver = ProfileResolver(AppView(session, fake.url, fake.url), ProfileCache())
        task = asyncio.create_task(resolver.run())
        try:
            futures = [resolver.request(did) for did in dids]
            profiles = await asyncio.wait_for(asyncio.gather(*futures), TIMEOUT)
        finally:
            task.cancel()
            await asyncio.wait([task])
    assert [p.did for p in profiles if p is not None] == dids
    assert sorted(len(call) for call in fake.calls) == [10, 25, 25]
    assert resolver.cache.lookup(dids[0])[0]


async def test_labels_and_refusals() -> None:
    """`!no-unauthenticated` marks a profile hidden; more than 25 actors is refused, and an
    AppView error says what it answered."""
    async with running_appview() as fake, aiohttp.ClientSession() as session:
        appview = AppView(session, fake.url, fake.url)
        hidden = await appview.get_profiles(["did:plc:writtennounauthxxxxx"])
        assert hidden["did:plc:writtennounauthxxxxx"].hidden
        with pytest.raises(ValueError, match="1 to 25"):
            await appview.get_profiles([f"did:plc:{n}" for n in range(26)])
        fake.failing = True
        with pytest.raises(AppViewError, match="got 500: Internal Server Error"):
            await appview.get_profiles(["did:plc:writtenauthoraaaaaaaaaaa"])
        assert await appview.handle_in_did_document(
            "did:plc:writtenauthoraaaaaaaaaaa") == "written-a.bsky.social"
        assert await appview.handle_in_did_document("did:plc:unknown") is None


def test_the_cache_is_bounded_and_expires() -> None:
    """The cache keeps at most its size, forgets after its lifetime, and counts hits."""
    now = [0.0]
    cache = ProfileCache(size=2, ttl=10, clock=lambda: now[0])
    for did in ("a", "b", "c"):
        cache.put(did, None)
    assert len(cache) == 2 and cache.lookup("a") == (False, None)
    assert cache.lookup("c") == (True, None)
    now[0] = 11
    assert cache.lookup("c") == (False, None)
    assert (cache.hits, cache.misses) == (1, 2)
