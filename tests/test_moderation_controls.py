"""Moderator controls end to end: hide, undo, pin, pause, mode, announcements and live rules."""

from __future__ import annotations

import json
from pathlib import Path

from moderation.post import Status
from moderation.wall_state import Mode
from tests.moderation_helpers import console, of_type, reply_to, send, wait_for
from tests.utils import (
    RunningServer,
    make_post,
    make_settings,
    moderator,
    recv,
    run_server,
    ws_client,
)


async def test_hide_takes_a_post_back_from_every_screen(server: RunningServer) -> None:
    """A hide from the console retracts the post on every /ws client, with the pin."""
    wall = server.wall
    await wall.pipeline.ingest(make_post(1, handle="trusted"))
    async with ws_client(f"{server.ws_base}/ws") as one, ws_client(f"{server.ws_base}/ws") as two:
        for ws in (one, two):
            assert [p["id"] for p in (await recv(ws))["posts"]] == ["x:1"]
        async with console(server, "ana") as (ana, _):
            await send(ana, type="pin", id="x:1", ref="p")
            assert (await wait_for(ana, reply_to("p")))[0]["changed"] is True
            await send(ana, type="decide", id="x:1", action="hide", ref="h")
            assert (await wait_for(ana, reply_to("h")))[0]["status"] == "hidden"
        for ws in (one, two):
            pinned = await recv(ws)
            retracted = await recv(ws)
            unpinned = await recv(ws)
            assert (pinned["type"], pinned["post"]["id"]) == ("post.pinned", "x:1")
            assert retracted == {"type": "post.retracted", "seq": retracted["seq"], "id": "x:1"}
            assert (unpinned["type"], unpinned["id"]) == ("post.unpinned", "x:1")
    async with ws_client(f"{server.ws_base}/ws") as late:
        snapshot = await recv(late)
    assert snapshot["posts"] == [] and snapshot["pinned"] is None


async def test_undo_over_the_socket_brings_a_post_back(server: RunningServer) -> None:
    """U after a hide shows the post again; U after an approve returns it to every queue."""
    wall = server.wall
    await wall.pipeline.ingest(make_post(1))
    async with console(server, "ana") as (ana, _), console(server, "ben") as (ben, _):
        async with ws_client(f"{server.ws_base}/ws") as screen:
            await recv(screen)
            await send(ana, type="decide", id="x:1", action="approve", ref="a")
            await wait_for(ana, reply_to("a"))
            await send(ana, type="undo", ref="u")
            undo, _ = await wait_for(ana, reply_to("u"))
            assert undo == {"type": "ack", "ref": "u", "id": "x:1", "undone": "approve",
                            "status": "pending"}
            back, _ = await wait_for(ben, of_type("queue.decided", action="undo"))
            assert back["item"]["status"] == "pending" and back["undone"] == "approve"
            assert [(await recv(screen))["type"] for _ in range(2)] == [
                "post.shown", "post.retracted"]
            await send(ana, type="undo", ref="u2")
            nothing, _ = await wait_for(ana, reply_to("u2"))
            assert nothing["code"] == "invalid_action"
    item = await wall.store.get("x:1")
    assert item is not None and item.status is Status.PENDING


async def test_pause_and_resume_reach_the_screens_and_new_snapshots(
    server: RunningServer,
) -> None:
    """Pause is an event for connected screens and a flag in the snapshot of new ones."""
    async with ws_client(f"{server.ws_base}/ws") as screen:
        assert (await recv(screen))["paused"] is False
        async with moderator(server) as http:
            assert (await http.post("/api/pause")).json() == {"paused": True, "changed": True}
            assert (await http.post("/api/pause")).json()["changed"] is False
            assert (await recv(screen))["type"] == "wall.paused"
            async with ws_client(f"{server.ws_base}/ws") as late:
                assert (await recv(late))["paused"] is True
            await http.post("/api/resume")
            assert (await recv(screen))["type"] == "wall.resumed"


async def test_post_moderation_mode_shows_at_once_unless_a_rule_holds(
    server: RunningServer,
) -> None:
    """Switching to post-moderation shows plain posts at once; held ones and pre mode wait."""
    wall = server.wall
    async with console(server, "ana") as (ana, first):
        assert first["wall"]["mode"] == "pre"
        await send(ana, type="mode", mode="post", ref="m")
        assert (await wait_for(ana, reply_to("m")))[0] == {
            "type": "ack", "ref": "m", "mode": "post", "changed": True}
        switched, _ = await wait_for(ana, of_type("wall.mode"))
        assert switched["mode"] == "post" and switched["moderator"] == "ana"
        await send(ana, type="mode", mode="sideways", ref="bad")
        assert (await wait_for(ana, reply_to("bad")))[0]["code"] == "invalid_action"
    shown = await wall.pipeline.ingest(make_post(1, text="Belle plénière"))
    held = await wall.pipeline.ingest(make_post(2, text="hmm", possibly_sensitive=True))
    assert shown is not None and (shown.status, shown.rule) == (Status.APPROVED,
                                                               "post_moderation")
    assert held is not None and (held.status, held.rule) == (Status.PENDING, "sensitive")
    await wall.store.set_mode(Mode.PRE, "ben")
    waiting = await wall.pipeline.ingest(make_post(3, text="Encore une"))
    assert waiting is not None and waiting.status is Status.PENDING


async def test_an_announcement_is_shown_once_even_when_resent(server: RunningServer) -> None:
    """An announcement reaches the wall at once; re-sending its ref shows nothing twice."""
    async with ws_client(f"{server.ws_base}/ws") as screen:
        await recv(screen)
        async with console(server, "ana") as (ana, _):
            for attempt in range(2):
                await send(ana, type="announce", text="Reprise à 14 h en salle Descartes",
                           ref="ann-1")
                ack, _ = await wait_for(ana, reply_to("ann-1"))
                assert ack["id"] == "hashwall:ann-1" and ack.get("repeat", False) is (
                    attempt == 1)
            await send(ana, type="announce", text="   ", ref="ann-2")
            assert (await wait_for(ana, reply_to("ann-2")))[0]["code"] == "invalid_action"
            await send(ana, type="pause", ref="sentinel")
            await wait_for(ana, reply_to("sentinel"))
        shown = await recv(screen)
        assert shown["type"] == "post.shown" and shown["post"]["kind"] == "announcement"
        assert shown["post"]["text"] == "Reprise à 14 h en salle Descartes"
        assert (await recv(screen))["type"] == "wall.paused"  # no second post.shown between


async def test_rules_edited_live_apply_to_the_next_post(server: RunningServer) -> None:
    """A rules edit reaches every console and decides the next post; a bad edit is refused."""
    wall = server.wall
    async with moderator(server) as http, console(server, "ben") as (ben, first):
        assert "casino" in first["rules"]["blocked_words"]
        response = await http.put("/api/rules", json={"blocked_authors": ["@Spammer"],
                                                      "hold_links": True})
        assert response.status_code == 200, response.text
        rules = response.json()["rules"]
        assert rules["blocked_authors"] == ["spammer"] and "casino" in rules["blocked_words"]
        changed, _ = await wait_for(ben, of_type("rules.changed"))
        assert changed["rules"] == rules and changed["moderator"] == "ana"
        bad = await http.put("/api/rules", json={"replies": "sometimes"})
        assert bad.status_code == 400 and "replies" in bad.json()["error"]
        assert (await http.get("/api/rules")).json()["rules"] == rules
    blocked = await wall.pipeline.ingest(make_post(1, text="hello", handle="spammer"))
    assert blocked is not None and blocked.rule == "blocked_author"
    link = await wall.pipeline.ingest(make_post(2, text="voir https://example.org",
                                                handle="trusted"))
    assert link is not None and (link.status, link.rule) == (Status.APPROVED, "trusted_author")
    assert link.reason is not None and "has a link" in link.reason


async def test_bad_console_messages_are_refused_and_change_nothing(server: RunningServer) -> None:
    """Unknown commands, missing fields and wrong types get an error naming what was expected."""
    await server.wall.pipeline.ingest(make_post(1))
    async with console(server, "ana") as (ana, _):
        for n, message in enumerate([{"type": "pin"}, {"type": "pin", "id": "x:1"},
                                     {"type": "claim", "size": 0}, {"type": "rules", "rules": 3},
                                     {"type": "explode"}, {"type": "decide", "id": 5}]):
            await ana.send(json.dumps({**message, "ref": n}))
            error, _ = await wait_for(ana, reply_to(n))
            assert error["type"] == "error" and error["message"], message
    item = await server.wall.store.get("x:1")
    assert item is not None and item.status is Status.PENDING


async def test_rules_file_seeds_a_fresh_store_and_live_edits_survive_a_restart(
    store_url: str, tmp_path: Path,
) -> None:
    """HASHWALL_RULES_FILE decides the first posts; after a live edit, a restart keeps the edit."""
    rules_file = tmp_path / "rules.toml"
    rules_file.write_text('[rules]\nblocked_words = ["croissant"]\nlanguages = ["fr"]\n',
                          encoding="utf-8")
    settings = make_settings(store_url=store_url, rules_file=rules_file)
    async with run_server(settings) as running:
        wall = running.wall
        blocked = await wall.pipeline.ingest(make_post(1, text="Un croissant svp"))
        english = await wall.pipeline.ingest(make_post(2, text="Good morning", lang="en"))
        insult = await wall.pipeline.ingest(make_post(3, text="quel connard"))  # list replaced
        assert blocked is not None and blocked.rule == "blocked_word"
        assert english is not None and english.rule == "language"
        assert insult is not None and insult.status is Status.PENDING
        async with moderator(running) as http:
            edit = await http.put("/api/rules", json={"blocked_words": ["brioche"]})
            assert edit.status_code == 200
    async with run_server(settings) as running:
        kept = await running.wall.pipeline.ingest(make_post(4, text="Une brioche"))
        freed = await running.wall.pipeline.ingest(make_post(5, text="Un croissant"))
    assert kept is not None and kept.rule == "blocked_word"
    assert freed is not None and freed.status is Status.PENDING


async def test_rate_limit_and_flood_hold_through_the_pipeline(server: RunningServer) -> None:
    """Through the real pipeline, a chatty author is limited and a bot flood is held as one."""
    wall = server.wall
    async with moderator(server) as http:
        response = await http.put("/api/rules", json={"rate_limit_posts": 2,
                                                      "flood_accounts": 3})
        assert response.status_code == 200, response.text
    chatty = [await wall.pipeline.ingest(make_post(n, text=f"Point {n} du débat sur l'emploi",
                                                   handle="chatty")) for n in (1, 2, 3)]
    assert [i.rule if i else None for i in chatty] == [None, None, "rate_limit"]
    slogan = "Rejoignez le meilleur réseau d'affaires gratuit maintenant sur notre site"
    bots = [await wall.pipeline.ingest(make_post(10 + n, text=f"{slogan} #{n}",
                                                 handle=f"bot{n}")) for n in range(4)]
    assert [i.rule if i else None for i in bots] == [None, None, "bot_flood", "bot_flood"]
    assert len({i.reason.rsplit("group ", 1)[1] for i in bots[2:] if i and i.reason}) == 1
    again = await wall.pipeline.ingest(make_post(1, text="Point 1 du débat sur l'emploi",
                                                 handle="chatty"))
    assert again is not None and again.rule is None  # a duplicate is not counted twice
