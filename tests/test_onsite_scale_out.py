"""Phones' posts on two real web processes sharing one Redis: one post per key, tokens,
limits and the organiser's switch hold across the processes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from moderation.store import create_store
from server.sources.onsite.records import shared_secret
from tests.onsite_images import encoded, new_key, send
from tests.redis_server import RedisServer
from tests.scale_out import Cluster, cluster_env, running, signed_in, write_replay
from tests.utils import TIMEOUT


def phone(base: str, device: str, address: str = "127.0.0.1") -> httpx.AsyncClient:
    """A phone talking to one web process from a loopback address, with its device cookie."""
    return httpx.AsyncClient(base_url=base, timeout=TIMEOUT,
                             cookies={"hashwall_device": device},
                             transport=httpx.AsyncHTTPTransport(local_address=address))


async def test_limits_keys_and_the_switch_are_shared_by_two_web_processes(
        tmp_path: Path, own_redis: RedisServer) -> None:
    """A key sent to both processes is one post; the limits and the switch count for both."""
    env = cluster_env(own_redis.url, write_replay(tmp_path / "stream.jsonl", 1), 0)
    env.update(HASHWALL_ONSITE_POSTS="true", HASHWALL_ONSITE_DEVICE_POSTS="3",
               HASHWALL_ONSITE_ADDRESS_POSTS="5")
    cluster = Cluster(tmp_path, env)
    a, b = cluster.web("web-a"), cluster.web("web-b")
    async with running(cluster), phone(a.base, "device-one-0123456789") as on_a, \
            phone(b.base, "device-one-0123456789") as on_b:
        key = new_key()
        both = await asyncio.gather(send(on_a, key), send(on_b, key))
        assert [r.status_code for r in both] == [202, 202], [r.text for r in both]
        assert both[0].json()["id"] == both[1].json()["id"]
        assert both[0].json()["token"] == both[1].json()["token"]
        sent = both[0].json()
        state = await on_b.get(f"/api/submissions/{sent['id']}",
                               headers={"Authorization": f"Bearer {sent['token']}"})
        assert state.json()["state"] == "waiting"

        # The device limit (3): the burst above counted once or twice, whichever process
        # answered first; the device runs out whichever process it talks to.
        answers = [await send(client, new_key()) for client in (on_a, on_b, on_a)]
        codes = [r.status_code for r in answers]
        assert 429 in codes and codes.index(429) >= 1, codes
        refused = answers[codes.index(429)].json()
        assert refused["code"] == "slow_down" and refused["retry_after"] > 0
        # The address limit (5) is shared too: a new device runs into it on the other side.
        async with phone(b.base, "device-two-0123456789") as two_b, \
                phone(a.base, "device-two-0123456789") as two_a:
            codes = [(await send(client, new_key())).status_code
                     for client in (two_b, two_a, two_b, two_a)]
        assert codes[-1] == 429 and codes[0] == 202, codes

        async with signed_in(a, "ana") as ana, signed_in(b, "ben") as ben, \
                phone(b.base, "device-three-012345678", "127.0.0.2") as three_b:
            assert (await ana.post("/api/close_submissions")).json()["closed"] is True
            closed = await send(three_b, new_key())
            assert closed.status_code == 403 and closed.json()["code"] == "closed"
            assert (await three_b.get("/api/submissions")).json()["open"] is False
            assert (await ben.post("/api/open_submissions")).json()["changed"] is True

        async with phone(a.base, "device-four-012345678", "127.0.0.3") as four_a, \
                signed_in(b, "ben") as ben:
            answer = await send(four_a, new_key(), photo=("p.png", encoded("PNG"), "image/png"))
            assert answer.status_code == 202, answer.text
            pending = (await ben.get("/api/posts?status=pending")).json()["items"]
            mine = next(i for i in pending if i["post"]["id"] == answer.json()["id"])
            url = mine["post"]["media"][0]["url"]
            assert (await ben.get(url)).status_code == 200  # stored by web-a, served by web-b
            assert (await four_a.get(url)).status_code == 404


async def test_processes_without_a_configured_secret_agree_on_one(redis_url: str) -> None:
    """Two processes making the token secret at once end with the same one, from the store."""
    first, second = create_store(redis_url), create_store(redis_url)
    await first.open()
    await second.open()
    try:
        async with asyncio.timeout(TIMEOUT):
            one, two = await asyncio.gather(shared_secret(first, None),
                                            shared_secret(second, None))
        assert one == two and len(one) == 32
        assert await shared_secret(first, None) == one
    finally:
        await first.close()
        await second.close()
