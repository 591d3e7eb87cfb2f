"""Every automatic rule, on real posts of the demo stream and on hand-written ones."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path

import pytest

from moderation.exceptions import InvalidRules
from moderation.post import Author, Entity, Kind, Media, Post, Status
from moderation.rules import RuleContext, RuleSet, admit, evaluate, fold, remember
from moderation.ruleset_config import (
    load_rules_file,
    rules_from_dict,
    rules_to_dict,
    seed_rules,
)
from server.sources.x.normalise import normalise_stream_item
from tests.utils import make_post


@cache
def demo_posts() -> tuple[Post, ...]:
    """The bundled demo stream, normalised: real posts of a real event."""
    text = resources.files("server.demo").joinpath("demo_stream.jsonl").read_text("utf-8")
    return tuple(normalise_stream_item(json.loads(line)) for line in text.splitlines() if line)


def demo_config() -> dict[str, list[str]]:
    """The demo's trusted authors and blocked words."""
    text = resources.files("server.demo").joinpath("demo_config.json").read_text("utf-8")
    data: dict[str, list[str]] = json.loads(text)
    return data


def test_blocked_words_are_whole_words_without_case_or_accents() -> None:
    """A blocked word matches whatever its case and accents, but never inside another word."""
    rules = RuleSet(blocked_words=("crétin", "fils de pute", "con"))
    assert rules.blocked_word("Quel CRETIN ce type") == "cretin"
    assert rules.blocked_word("#Crétin!") == "cretin"
    assert rules.blocked_word("espèce de FILS   DE  PUTE") == "fils de pute"
    assert rules.blocked_word("une conférence constructive") is None
    assert rules.blocked_word("le con.") == "con"


def test_builtin_list_is_french_and_english_and_replaceable() -> None:
    """The default rules block common insults in both languages; replacing the list drops them."""
    default = RuleSet()
    assert evaluate(make_post(1, "Quel connard ce speaker"), default).rule == "blocked_word"
    assert evaluate(make_post(2, "what a bunch of BULLSHIT"), default).rule == "blocked_word"
    assert evaluate(make_post(3, "Superbe plénière #uemedef14"), default).status is Status.PENDING
    replaced = rules_from_dict({"blocked_words": ["casino"]})
    assert evaluate(make_post(1, "Quel connard ce speaker"), replaced).status is Status.PENDING
    assert evaluate(make_post(4, "Gagnez au Casino"), replaced).rule == "blocked_word"


def test_demo_stream_blocked_words_reject_and_trusted_authors_approve() -> None:
    """On the real demo posts, every post with a demo blocked word is rejected and naming it."""
    config = demo_config()
    rules = rules_from_dict({"blocked_words": config["blocked_words"],
                             "trusted_authors": config["trusted_authors"]})
    verdicts = [(p, evaluate(p, rules)) for p in demo_posts() if p.kind is not Kind.RETWEET]
    rejected = [(p, v) for p, v in verdicts if v.status is Status.REJECTED]
    assert len(rejected) >= 15
    for post, verdict in rejected:
        assert verdict.rule == "blocked_word" and verdict.reason
        word = verdict.reason.split("'")[1]
        assert word in {fold(w) for w in config["blocked_words"]}
        seen = [post.text, post.author.name, post.referenced.text if post.referenced else ""]
        assert word in fold(" ".join(seen))
    approved = [p for p, v in verdicts if v.status is Status.APPROVED]
    assert approved and all(v.rule == "trusted_author" for p, v in verdicts
                            if v.status is Status.APPROVED)
    assert {p.author.handle.lower() for p in approved} <= rules.trusted_authors


def test_blocked_author_and_trusted_author() -> None:
    """A blocked author is rejected whatever they write; a trusted one is approved at once."""
    rules = RuleSet(blocked_authors=frozenset({"troll"}), trusted_authors=frozenset({"orga"}))
    verdict = evaluate(make_post(1, "bonjour", handle="Troll"), rules)
    assert (verdict.status, verdict.rule) == (Status.REJECTED, "blocked_author")
    verdict = evaluate(make_post(2, "bienvenue", handle="ORGA"), rules)
    assert (verdict.status, verdict.rule) == (Status.APPROVED, "trusted_author")


def test_trust_never_beats_a_blocked_word_and_hits_are_all_listed() -> None:
    """A trusted author's insult is rejected, and the reason lists every rule that applied."""
    rules = RuleSet(trusted_authors=frozenset({"orga"}), hold_links=True)
    post = make_post(1, "merde https://example.org", handle="orga")
    verdict = evaluate(post, rules)
    assert (verdict.status, verdict.rule) == (Status.REJECTED, "blocked_word")
    assert verdict.reason is not None
    assert "blocked word" in verdict.reason and "link" in verdict.reason
    assert "trusted" in verdict.reason


def test_retweet_policy_counts_the_original_once_or_drops_it() -> None:
    """With `count` a real retweet is queued as its original; with `drop` it is ignored."""
    retweet = next(p for p in demo_posts() if p.kind is Kind.RETWEET)
    assert retweet.referenced is not None
    assert admit(retweet, RuleSet(retweets="count")) == retweet.referenced
    assert admit(retweet, RuleSet(retweets="drop")) is None
    original = make_post(1)
    assert admit(original, RuleSet(retweets="drop")) is original


def test_reply_policy_allows_holds_or_rejects_real_replies() -> None:
    """A real reply passes, waits or is rejected as the reply policy says."""
    reply = next(p for p in demo_posts() if p.kind is Kind.REPLY)
    post_mod = {"post_moderation": True}
    assert evaluate(reply, RuleSet(replies="allow"), **post_mod).status is Status.APPROVED
    held = evaluate(reply, RuleSet(replies="hold"), **post_mod)
    assert (held.status, held.rule) == (Status.PENDING, "reply")
    rejected = evaluate(reply, RuleSet(replies="reject"), **post_mod)
    assert (rejected.status, rejected.rule) == (Status.REJECTED, "reply")


def test_language_allowlist_on_real_posts() -> None:
    """Only allowed languages pass; posts whose language X could not tell are let through."""
    rules = RuleSet(languages=("fr",))
    langs = {p.lang: evaluate(p, rules) for p in demo_posts() if p.kind is not Kind.RETWEET}
    assert langs["en"].rule == "language" and langs["en"].status is Status.REJECTED
    assert langs["ar"].status is Status.REJECTED
    assert evaluate(make_post(1, "bonjour", lang="fr"), rules).status is Status.PENDING
    assert evaluate(make_post(2, "😀", lang="und"), rules).status is Status.PENDING
    assert evaluate(make_post(3, "hello", lang=None), rules).status is Status.PENDING


def test_links_and_media_are_held_even_in_post_moderation() -> None:
    """With the holds on, a post with a link or a photo waits; a plain one is shown."""
    rules = RuleSet(hold_links=True, hold_media=True)
    link = make_post(1, "voir https://t.co/x", entities=(
        Entity("url", 5, 18, "https://t.co/x", "https://example.org", "example.org"),))
    photo = make_post(2, "regardez", media=(Media("photo", "https://pbs.twimg.com/a.jpg"),))
    plain = make_post(3, "plénière")
    assert evaluate(link, rules, post_moderation=True).rule == "links"
    assert evaluate(photo, rules, post_moderation=True).rule == "media"
    verdict = evaluate(plain, rules, post_moderation=True)
    assert (verdict.status, verdict.rule) == (Status.APPROVED, "post_moderation")
    real = next(p for p in demo_posts() if p.media and p.kind is Kind.ORIGINAL)
    assert evaluate(real, RuleSet(hold_media=True), post_moderation=True).status is Status.PENDING


def test_sensitive_posts_wait() -> None:
    """A post the network marked possibly sensitive waits, even in post-moderation."""
    verdict = evaluate(make_post(1, "x", possibly_sensitive=True), RuleSet(), post_moderation=True)
    assert (verdict.status, verdict.rule) == (Status.PENDING, "sensitive")


def test_rate_limit_lets_n_posts_per_window_reach_the_queue() -> None:
    """An author's posts beyond N in M minutes are rejected; the window then frees up."""
    rules = RuleSet(rate_limit_posts=2, rate_limit_minutes=10)
    context = RuleContext()
    results = []
    for n, at in enumerate((0, 60, 120, 180, 601, 661, 700)):
        post = make_post(n, f"message {n} about the keynote", handle="busy")
        verdict = evaluate(post, rules, context, now=at)
        remember(context, post, verdict, at, rules)
        results.append(verdict.rule)
    assert results == [None, None, "rate_limit", "rate_limit", None, None, "rate_limit"]
    other = make_post(99, "another voice", handle="calm")
    assert evaluate(other, rules, context, now=700).rule is None


def test_evaluate_does_not_change_the_context() -> None:
    """Evaluating is pure: the same post and context give the same verdict until remembered."""
    rules = RuleSet(rate_limit_posts=1)
    context = RuleContext()
    post = make_post(1, "first words here")
    assert evaluate(post, rules, context, 5.0) == evaluate(post, rules, context, 5.0)
    remember(context, post, evaluate(post, rules, context, 5.0), 5.0, rules)
    assert evaluate(make_post(2), rules, context, 6.0).rule == "rate_limit"


def _bot(n: int, handle: str, text: str) -> Post:
    return Post(id=f"x:{n}", network="x", author=Author(f"id-{handle}", handle, handle),
                text=text, created_at="2014-08-27T09:00:00.000Z")


def test_near_identical_text_from_many_accounts_is_held_together() -> None:
    """The same slogan with small changes from many accounts is held as one named group."""
    rules = RuleSet(flood_accounts=3, flood_minutes=10)
    context = RuleContext()
    texts = [
        "Achetez nos montres de luxe à prix cassé http://spam.example/{} #uemedef14",
        "achetez nos montres de luxe a prix casse !! http://spam.example/{} #uemedef14",
        "Achetez nos MONTRES de luxe à prix cassé @someone http://spam.example/{} #uemedef14",
        "Achetez nos montres de luxe à prix cassé http://spam.example/{} #uemedef14 #Paroles2CEO",
    ]
    verdicts = []
    for n, text in enumerate(texts):
        post = _bot(n, f"bot{n}", text.format(n))
        verdict = evaluate(post, rules, context, now=10.0 * n, post_moderation=True)
        remember(context, post, verdict, 10.0 * n, rules)
        verdicts.append(verdict)
    assert [v.rule for v in verdicts] == [
        "post_moderation", "post_moderation", "bot_flood", "bot_flood"]
    assert verdicts[2].status is Status.PENDING
    groups = {v.reason.rsplit("group ", 1)[1] for v in verdicts[2:] if v.reason}
    assert len(groups) == 1
    assert "3 accounts" in (verdicts[2].reason or "")


def test_texts_are_kept_only_while_flood_detection_is_on() -> None:
    """With flood detection off no text is kept (only the rate limit's counts); once a
    moderator turns it on, a flood is caught from the Nth account and keeps one group name."""
    off, on = RuleSet(), RuleSet(flood_accounts=3, flood_minutes=10)
    context = RuleContext()
    slogan = "Gagnez un iPhone en cliquant ici http://spam.example/{} #uemedef14"
    for n in range(2):
        post = _bot(n, f"bot{n}", slogan.format(n))
        verdict = evaluate(post, off, context, now=10.0 * n)
        assert verdict.rule is None
        remember(context, post, verdict, 10.0 * n, off)
    assert context.texts == {} and context.text_bytes == 0
    verdicts = []
    for n in range(2, 6):
        post = _bot(n, f"bot{n}", slogan.format(n))
        verdicts.append(evaluate(post, on, context, now=10.0 * n))
        remember(context, post, verdicts[-1], 10.0 * n, on)
    assert [v.rule for v in verdicts] == [None, None, "bot_flood", "bot_flood"]
    assert len({v.reason.rsplit("group ", 1)[1] for v in verdicts if v.reason}) == 1
    remember(context, _bot(9, "bot9", "x"), verdicts[0], 60.0, off)
    assert context.texts == {}


def test_kept_texts_are_bounded_by_bytes() -> None:
    """Long texts from many authors never hold more shingle characters than the bound."""
    rules = RuleSet(flood_accounts=3)
    context = RuleContext(max_text_bytes=200_000)
    for n in range(400):
        post = _bot(n, f"a{n}", " ".join(f"w{n}x{k}" for k in range(300)))
        remember(context, post, evaluate(post, rules, context, float(n)), float(n), rules)
        assert context.text_bytes <= 200_000
    assert 0 < len(context.texts) < 400


def test_one_author_repeating_or_different_texts_is_no_flood() -> None:
    """Repeats by one account, different texts, short applause and old texts are not a flood."""
    rules = RuleSet(flood_accounts=3, flood_minutes=10)
    context = RuleContext()
    posts = [_bot(1, "a", "Le discours de la ministre était vraiment clair"),
             _bot(2, "a", "Le discours de la ministre était vraiment clair"),
             _bot(3, "b", "Une table ronde passionnante sur l'export"),
             _bot(4, "c", "Bravo !"), _bot(5, "d", "Bravo !"), _bot(6, "e", "Bravo !")]
    for n, post in enumerate(posts):
        verdict = evaluate(post, rules, context, now=n)
        assert verdict.rule is None, (post.text, verdict)
        remember(context, post, verdict, n, rules)
    late = _bot(7, "f", "Le discours de la ministre était vraiment clair")
    assert evaluate(late, rules, context, now=1000).rule is None


def test_rules_round_trip_and_bad_values_are_refused() -> None:
    """Rules survive to_dict/from_dict; a wrong value names the rule and what was expected."""
    rules = rules_from_dict({"blocked_words": "casino, viagra", "trusted_authors": ["@Orga"],
                             "languages": ["FR", "en"], "rate_limit_posts": 3,
                             "flood_accounts": 4, "replies": "hold", "hold_links": True})
    assert rules.trusted_authors == frozenset({"orga"}) and rules.languages == ("fr", "en")
    assert rules_from_dict(rules_to_dict(rules)) == rules
    for bad, words in [({"replies": "maybe"}, "allow, hold, reject"),
                       ({"rate_limit_posts": -1}, "rate_limit_posts"),
                       ({"rate_limit_posts": 1.5}, "whole number"),
                       ({"hold_links": "yes"}, "true or false"),
                       ({"blocked_words": [1]}, "list of strings"),
                       ({"colour": "red"}, "unknown rule 'colour'"),
                       ([], "expected an object")]:
        with pytest.raises(InvalidRules, match=words):
            rules_from_dict(bad)


def test_rules_file_in_json_or_toml_seeds_the_rules(tmp_path: Path) -> None:
    """A TOML or JSON rules file is read, checked, and merged with the settings' lists."""
    toml = tmp_path / "rules.toml"
    toml.write_text('[rules]\nblocked_words = ["casino"]\nrate_limit_posts = 5\n', "utf-8")
    seeded = seed_rules(load_rules_file(toml), trusted=["orga"], blocked=["viagra"],
                        retweets="drop")
    assert seeded.blocked_words == ("casino", "viagra") and seeded.rate_limit_posts == 5
    assert seeded.trusted_authors == frozenset({"orga"}) and seeded.retweets == "drop"
    bad = tmp_path / "rules.json"
    bad.write_text('{"replies": "sometimes"}', "utf-8")
    with pytest.raises(InvalidRules, match=r"rules.json: replies: expected one of"):
        load_rules_file(bad)
    bad.write_text('{"replies": ', "utf-8")
    with pytest.raises(InvalidRules, match="not valid JSON"):
        load_rules_file(bad)
    with pytest.raises(InvalidRules, match="cannot read"):
        load_rules_file(tmp_path / "missing.toml")
