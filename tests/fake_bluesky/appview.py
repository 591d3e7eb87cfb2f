"""A fake public AppView (`app.bsky.actor.getProfiles`, at most 25 actors a call) and PLC
directory (`GET /<did>`), with profiles in the recorded shape (`get_follows.json`) built
from the recorded DID documents and the hand-written profiles."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

from aiohttp import web

from tests.fake_bluesky import did_docs, written_profiles


def profile_view(did: str, handle: str, name: str, labels: Sequence[str] = ()) -> dict[str, Any]:
    """A `profileViewDetailed` as the AppView sends it."""
    avatar_cid = "bafkrei" + hashlib.sha256(did.encode()).hexdigest()[:52]
    return {
        "did": did,
        "handle": handle,
        "displayName": name,
        "avatar": f"https://cdn.bsky.app/img/avatar/plain/{did}/{avatar_cid}@jpeg",
        "associated": {"lists": 0, "feedgens": 0, "starterPacks": 0, "labeler": False},
        "labels": [{"src": did, "uri": f"at://{did}/app.bsky.actor.profile/self",
                    "cid": "bafyreifakelabelcid", "val": value,
                    "cts": "2026-07-01T00:00:00.000Z"} for value in labels],
        "createdAt": "2024-01-01T00:00:00.000Z",
        "indexedAt": "2026-07-01T00:00:00.000Z",
        "followersCount": 10, "followsCount": 20, "postsCount": 30,
    }


class FakeAppView:
    """Answers getProfiles and DID documents; can be slow or failing."""

    MAX_ACTORS = 25

    def __init__(self) -> None:
        self.docs = did_docs()
        self.profiles: dict[str, dict[str, Any]] = {}
        for did, doc in self.docs.items():
            handle = doc["alsoKnownAs"][0].removeprefix("at://")
            self.profiles[did] = profile_view(did, handle, handle.split(".")[0].title())
        for did, written in written_profiles().items():
            self.profiles[did] = profile_view(did, written["handle"], written["displayName"],
                                              written.get("labels", []))
            self.docs[did] = {"id": did, "alsoKnownAs": [f"at://{written['handle']}"]}
        self.calls: list[list[str]] = []
        self.delay = 0.0
        self.failing = False
        self.released = asyncio.Event()
        self.released.set()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        """Listen on a free loopback port."""
        app = web.Application()
        app.router.add_get("/xrpc/app.bsky.actor.getProfiles", self._get_profiles)
        app.router.add_get("/{did}", self._did_doc)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        """Stop listening."""
        self.released.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _get_profiles(self, request: web.Request) -> web.Response:
        actors = request.query.getall("actors", [])
        if not actors:
            return web.json_response({"error": "InvalidRequest",
                                      "message": 'Error: Params must have the property "actors"'},
                                     status=400)
        if len(actors) > self.MAX_ACTORS:
            return web.json_response({"error": "InvalidRequest",
                                      "message": "Error: actors must not have more than 25 "
                                                 "elements"}, status=400)
        self.calls.append(actors)
        await self.released.wait()
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.failing:
            return web.json_response({"error": "InternalServerError",
                                      "message": "Internal Server Error"}, status=500)
        return web.json_response({"profiles": [self.profiles[a] for a in actors
                                               if a in self.profiles]})

    async def _did_doc(self, request: web.Request) -> web.Response:
        doc = self.docs.get(request.match_info["did"])
        if doc is None:
            return web.json_response({"message": "DID not registered"}, status=404)
        return web.json_response(doc)


@contextlib.asynccontextmanager
async def running_appview() -> AsyncIterator[FakeAppView]:
    """A started FakeAppView, stopped afterwards."""
    fake = FakeAppView()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()
