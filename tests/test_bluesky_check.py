"""`hashwall bluesky check` against the fake Jetstream and the fake AppView."""

from __future__ import annotations

import asyncio
import os
import sys

from tests.fake_bluesky import written
from tests.fake_bluesky.appview import running_appview
from tests.fake_bluesky.jetstream import running_jetstream

TIMEOUT = 30.0


async def _run_check(env: dict[str, str], publish):  # type: ignore[no-untyped-def]
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server.cli", "bluesky", "check", "--seconds", "3",
        env={**os.environ, **env}, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    await publish()
    out, err = await asyncio.wait_for(process.communicate(), TIMEOUT)
    return process.returncode, out.decode(), err.decode()


async def test_check_counts_matching_events_and_reads_a_profile() -> None:
    """The check connects, counts the matching posts it saw and names one author."""
    async with running_jetstream() as jetstream, running_appview() as appview:
        env = {"HASHWALL_BLUESKY_JETSTREAM_URL": f"ws://127.0.0.1:9,{jetstream.url}",
               "HASHWALL_BLUESKY_APPVIEW_URL": appview.url,
               "HASHWALL_BLUESKY_PLC_URL": appview.url,
               "HASHWALL_HASHTAGS": "#uemedef14,#Paroles2CEO"}

        async def publish() -> None:
            await asyncio.wait_for(jetstream.wait_connects(1), TIMEOUT)
            jetstream.publish(written())

        code, out, _err = await _run_check(env, publish)
    assert code == 0, out
    assert "ws://127.0.0.1:9: not reachable" in out
    assert "15 matching #uemedef14, #Paroles2CEO" in out
    assert "is @written-a.bsky.social (Auteur A (écrit)), shown" in out


async def test_check_fails_clearly_when_the_appview_fails() -> None:
    """With a failing AppView the check exits 1 saying what the AppView answered."""
    async with running_jetstream() as jetstream, running_appview() as appview:
        appview.failing = True
        env = {"HASHWALL_BLUESKY_JETSTREAM_URL": jetstream.url,
               "HASHWALL_BLUESKY_APPVIEW_URL": appview.url}

        async def publish() -> None:
            await asyncio.wait_for(jetstream.wait_connects(1), TIMEOUT)
            jetstream.publish(written())

        code, out, _err = await _run_check(env, publish)
    assert code == 1
    assert "expected 200 and a profile list" in out and "500" in out
