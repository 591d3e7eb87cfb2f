"""Posts sent from phones: idempotent retries, following and withdrawing, the moderation
mode, the checks on fields, the abuse limits, the switch, and what moderators alone see."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from moderation.post import Status
from moderation.queue import Action, Verdict
from moderation.wall_state import Mode
from server.pipeline import held
from tests.onsite_images import new_key, send
from tests.utils import TIMEOUT, RunningServer, make_settings, moderator, run_server, ws_client


@pytest.fixture
async def phones(store_url: str) -> AsyncIterator[RunningServer]:
    """A real server taking posts from phones, with a blocked word."""
    settings = make_settings(store_url=store_url, onsite_posts=True, blocked_words=["casino"],
                             trusted_authors=["ada"], onsite_device_posts=100)
    async with run_server(settings) as running:
        yield running


def client(server: RunningServer) -> httpx.AsyncClient:
    """A phone: its own cookie jar, so its own device."""
    return httpx.AsyncClient(base_url=server.base, timeout=TIMEOUT)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_retried_submission_is_one_post(phones: RunningServer) -> None:
    """The same key sent again, one after the other or at once, answers the same post."""
    async with client(phones) as phone:
        key = new_key()
        first = await send(phone, key)
        again = await send(phone, key)
        assert first.status_code == again.status_code == 202, first.text
        assert first.json()["id"] == again.json()["id"]
        assert first.json()["token"] == again.json()["token"]
        assert again.json()["repeat"] is True and "repeat" not in first.json()
        burst_key = new_key()
        answers = await asyncio.gather(*(send(phone, burst_key, text="En même temps")
                                         for _ in range(5)))
        assert {a.status_code for a in answers} == {202}
        assert len({a.json()["id"] for a in answers}) == 1
        in_field = new_key()
        one = await send(phone, in_field, key_field=True, text="Par le champ")
        two = await send(phone, in_field, key_field=True, text="Par le champ")
        assert one.json()["id"] == two.json()["id"]
    pending = await phones.wall.store.list_items(Status.PENDING)
    assert len(pending) == 3
    assert all(item.post.network == "onsite" for item in pending)


async def test_the_sender_follows_its_post_with_the_token_only(phones: RunningServer) -> None:
    """The state goes waiting → shown; without the right token the state is refused."""
    async with client(phones) as phone:
        sent = (await send(phone, new_key())).json()
        assert sent["state"] == "waiting" and sent["id"].startswith("onsite:")
        url = f"/api/submissions/{sent['id']}"
        assert (await phone.get(url, headers=bearer(sent["token"]))).json()["state"] == "waiting"
        assert (await phone.get(url)).status_code == 403
        assert (await phone.get(url, headers=bearer(sent["token"] + "x"))).status_code == 403
        await phones.wall.store.decide(sent["id"], Action.APPROVE, "ana")
        assert (await phone.get(url, headers=bearer(sent["token"]))).json()["state"] == "shown"
        blocked = (await send(phone, new_key(), text="Gagnez au casino")).json()
        state = await phone.get(f"/api/submissions/{blocked['id']}",
                                headers=bearer(blocked["token"]))
        assert state.json()["state"] == "not_shown"


async def test_the_sender_withdraws_a_waiting_post_only(phones: RunningServer) -> None:
    """A waiting post is withdrawn (once, idempotently); a shown one cannot be."""
    async with client(phones) as phone:
        sent = (await send(phone, new_key())).json()
        url = f"/api/submissions/{sent['id']}"
        gone = await phone.delete(url, headers=bearer(sent["token"]))
        assert gone.status_code == 200 and gone.json()["state"] == "withdrawn"
        again = await phone.post(f"{url}/withdraw", headers=bearer(sent["token"]))
        assert again.json() == {"id": sent["id"], "state": "withdrawn", "repeat": True}
        item = await phones.wall.store.get(sent["id"])
        assert item is not None and item.status is Status.REJECTED
        assert (await phone.get(url, headers=bearer(sent["token"]))).json()["state"] == "withdrawn"
        shown = (await send(phone, new_key(), text="Montrée")).json()
        await phones.wall.store.decide(shown["id"], Action.APPROVE, "ana")
        late = await phone.delete(f"/api/submissions/{shown['id']}", headers=bearer(shown["token"]))
        assert late.status_code == 409 and late.json()["state"] == "shown"
        stranger = (await send(phone, new_key(), text="Pas à toi")).json()
        assert (await phone.delete(f"/api/submissions/{stranger['id']}",
                                   headers=bearer(sent["token"]))).status_code == 403


def test_phones_posts_are_held_unless_allowed() -> None:
    """A verdict that would show a phone's post at once becomes a hold; others are unchanged."""
    shown = Verdict(Status.APPROVED, "post_moderation", "shown at once")
    assert held(shown, True).status is Status.PENDING
    assert held(shown, False) is shown
    rejected = Verdict(Status.REJECTED, "blocked_word", "casino")
    assert held(rejected, True) is rejected


@pytest.mark.parametrize("allowed", [False, True])
async def test_post_moderation_applies_to_phones_only_when_allowed(
        store_url: str, allowed: bool) -> None:
    """In post-moderation mode a phone's post waits unless ONSITE_POST_MODERATION allows it."""
    settings = make_settings(store_url=store_url, onsite_posts=True, moderation_mode="post",
                             onsite_post_moderation=allowed)
    async with run_server(settings) as server, client(server) as phone:
        assert (await server.wall.store.wall_state()).mode is Mode.POST
        sent = (await send(phone, new_key())).json()
        item = await server.wall.store.get(sent["id"])
        assert item is not None
        assert item.status is (Status.APPROVED if allowed else Status.PENDING)
        assert sent["state"] == ("shown" if allowed else "waiting")


async def test_a_display_name_matching_a_trusted_handle_is_not_trusted(
        phones: RunningServer) -> None:
    """A phone naming itself like a trusted author still waits for a moderator."""
    async with client(phones) as phone:
        sent = (await send(phone, new_key(), name="ada")).json()
    item = await phones.wall.store.get(sent["id"])
    assert item is not None and item.status is Status.PENDING


@pytest.mark.parametrize(("fields", "status", "needle"), [
    ({"text": "x" * 281}, 400, "at most 280 characters, got 281"),
    ({"name": "n" * 41}, 400, "at most 40 characters"),
    ({"text": "   "}, 400, "expected some text"),
    ({"text": "ding \x07"}, 400, "control character U+0007"),
    ({"name": "Ada\nLovelace"}, 400, "control character U+000A"),
    ({"key": "short"}, 400, "idempotency key of 16 to 100"),
    ({"key": None}, 400, "expected an idempotency key"),
])
async def test_bad_fields_are_refused_clearly(phones: RunningServer, fields: dict[str, Any],
                                              status: int, needle: str) -> None:
    """Too long, empty, control characters or a bad key: a 400 saying what was expected."""
    key = fields.pop("key", new_key())
    async with client(phones) as phone:
        answer = await send(phone, key, **fields)
    assert answer.status_code == status and needle in answer.json()["error"], answer.text


async def test_lone_surrogates_and_broken_utf8_are_refused(phones: RunningServer) -> None:
    """Text bytes that are not UTF-8 (a surrogate encoded alone) get a 400."""
    boundary = "b0undary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nAda\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\n").encode()
    body += b"caf\xed\xa0\x80\r\n" + f"--{boundary}--\r\n".encode()
    async with client(phones) as phone:
        answer = await phone.post("/api/submissions", content=body, headers={
            "Idempotency-Key": new_key(),
            "content-type": f"multipart/form-data; boundary={boundary}"})
    assert answer.status_code == 400 and "expected UTF-8 text" in answer.json()["error"]


async def test_a_device_and_an_address_are_told_to_slow_down(store_url: str) -> None:
    """Past the limit per device (cookie) and per address: 429 with the time to wait."""
    settings = make_settings(store_url=store_url, onsite_posts=True, onsite_device_posts=2,
                             onsite_address_posts=3)
    async with run_server(settings) as server:
        async with client(server) as phone:
            assert [(await send(phone, new_key())).status_code for _ in range(2)] == [202, 202]
            refused = await send(phone, new_key())
            assert refused.status_code == 429 and refused.json()["code"] == "slow_down"
            assert 0 < int(refused.headers["Retry-After"]) <= 600
            assert "slow down" in refused.json()["error"]
        async with client(server) as other_phone:
            assert (await send(other_phone, new_key())).status_code == 202
            # The address has now sent 3: a new device from it is refused too.
        async with client(server) as third_phone:
            assert (await send(third_phone, new_key())).status_code == 429


async def test_the_organiser_closes_and_reopens_submissions(phones: RunningServer) -> None:
    """Closed from the console: phones are refused and told; reopened: they post again."""
    async with client(phones) as phone, moderator(phones) as console:
        closed = await console.post("/api/close_submissions")
        assert closed.json() == {"closed": True, "changed": True}
        assert (await phone.get("/api/submissions")).json()["open"] is False
        refused = await send(phone, new_key())
        assert refused.status_code == 403 and refused.json()["code"] == "closed"
        assert (await console.post("/api/open_submissions")).json()["changed"] is True
        assert (await phone.get("/api/submissions")).json()["open"] is True
        assert (await send(phone, new_key())).status_code == 202
        assert (await phone.post("/api/close_submissions")).status_code == 401


async def test_phones_posts_are_off_by_default(server: RunningServer) -> None:
    """Without HASHWALL_ONSITE_POSTS the endpoint says posting from phones is off."""
    async with client(server) as phone:
        assert (await phone.get("/api/submissions")).json() == {"enabled": False, "open": False}
        answer = await send(phone, new_key())
    assert answer.status_code == 404 and "HASHWALL_ONSITE_POSTS" in answer.json()["error"]


async def test_the_address_reaches_moderators_and_never_screens(phones: RunningServer) -> None:
    """The export and the audit log name a phone's address; public answers never do."""
    async with client(phones) as phone, moderator(phones) as console, \
            ws_client(f"{phones.ws_base}/ws") as screen:
        sent = (await send(phone, new_key(), text="Depuis la salle")).json()
        assert (await console.post(f"/api/posts/{sent['id']}/approve")).status_code == 200
        public = (await phone.get("/api/posts?status=approved")).text
        assert sent["id"] in public and "127.0.0.1" not in public
        frames: list[str] = []
        async with asyncio.timeout(TIMEOUT):
            while not any(sent["id"] in f for f in frames):
                frames.append(str(await screen.recv()))
        assert not any("127.0.0.1" in f for f in frames)
        exported = (await console.get("/api/export.json")).json()
        assert exported["submissions"][sent["id"]]["address"] == "127.0.0.1"
        audit = (await console.get("/api/audit")).json()["entries"]
        mine = [e for e in audit if e["post_id"] == sent["id"]]
        assert mine and all(e["address"] == "127.0.0.1" for e in mine)
        csv_text = (await console.get("/api/export/audit.csv")).text
        assert "127.0.0.1" in csv_text.splitlines()[-1] or any(
            sent["id"] in line and "127.0.0.1" in line for line in csv_text.splitlines())
        assert json.dumps(exported).count(sent["token"]) == 0


async def test_the_switch_is_a_command_of_the_moderator_socket(phones: RunningServer) -> None:
    """`close_submissions` over /ws/moderate closes posting; `open_submissions` reopens it."""
    from tests.moderation_helpers import console, reply_to, wait_for
    from tests.moderation_helpers import send as send_message

    async with console(phones, "ana") as (ana, _), client(phones) as phone:
        await send_message(ana, type="close_submissions", ref="c")
        closed, _ = await wait_for(ana, reply_to("c"))
        assert closed == {"type": "ack", "ref": "c", "closed": True, "changed": True}
        assert (await send(phone, new_key())).json()["code"] == "closed"
        await send_message(ana, type="open_submissions", ref="o")
        opened, _ = await wait_for(ana, reply_to("o"))
        assert opened["closed"] is False
        assert (await send(phone, new_key())).status_code == 202
