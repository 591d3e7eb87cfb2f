"""Automatic rules: pure functions from a post (and the explicit state they read) to a verdict."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from moderation.blocklist import BUILTIN_BLOCKED_WORDS, compile_blocklist, find_blocked, fold
from moderation.post import Kind, Post, Status
from moderation.queue import Verdict
from moderation.rule_context import RuleContext, group_key, shingles

__all__ = ["RuleContext", "RuleSet", "admit", "evaluate", "fold", "remember"]


@dataclass(frozen=True)
class RuleSet:
    """The automatic rules in force; see docs/moderation.md for each field."""

    blocked_words: tuple[str, ...] = BUILTIN_BLOCKED_WORDS
    blocked_authors: frozenset[str] = frozenset()
    trusted_authors: frozenset[str] = frozenset()
    retweets: str = "count"  # count: the original is queued once; drop: ignored
    replies: str = "allow"  # allow, hold or reject
    languages: tuple[str, ...] = ()  # empty: every language
    hold_links: bool = False
    hold_media: bool = False
    rate_limit_posts: int = 0  # 0: no limit
    rate_limit_minutes: float = 10.0
    flood_accounts: int = 0  # 0: no flood detection
    flood_minutes: float = 10.0
    flood_similarity: float = 0.8
    _pattern: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_pattern", compile_blocklist(self.blocked_words))

    def blocked_word(self, text: str) -> str | None:
        """The first blocked word or phrase found in the text, as a whole word."""
        return find_blocked(self._pattern, text)


@dataclass(frozen=True, slots=True)
class Hit:
    """One rule that applies to a post, and why."""

    rule: str
    effect: Status
    reason: str


def _has_link(post: Post) -> bool:
    return any(e.type == "url" for e in post.entities) or "http://" in post.text or (
        "https://" in post.text
    )


def hits(post: Post, rules: RuleSet, context: RuleContext | None = None,
         now: float = 0.0) -> list[Hit]:
    """Every rule that applies to a post, in the order the rules are listed."""
    found: list[Hit] = []
    handle = post.author.handle.lower()
    if handle in rules.blocked_authors:
        found.append(Hit("blocked_author", Status.REJECTED, f"@{handle} is blocked"))
    texts = [post.text, post.author.name, *(m.alt_text or "" for m in post.media)]
    if post.referenced is not None:
        texts.append(post.referenced.text)
    for text in texts:
        word = rules.blocked_word(text)
        if word is not None:
            found.append(Hit("blocked_word", Status.REJECTED,
                             f"contains the blocked word {word!r}"))
            break
    if post.kind is Kind.REPLY and rules.replies != "allow":
        effect = Status.REJECTED if rules.replies == "reject" else Status.PENDING
        found.append(Hit("reply", effect, f"replies are set to {rules.replies}"))
    if context is not None and rules.rate_limit_posts > 0:
        since = now - rules.rate_limit_minutes * 60
        if context.admitted_since(post.author.id, since) >= rules.rate_limit_posts:
            found.append(Hit("rate_limit", Status.REJECTED,
                             f"more than {rules.rate_limit_posts} posts from @{handle} in "
                             f"{rules.rate_limit_minutes:g} minutes"))
    lang = (post.lang or "").lower()
    if rules.languages and lang and lang not in ("und", "zxx", "qme", "qht", "art"):
        if lang not in rules.languages:
            found.append(Hit("language", Status.REJECTED,
                             f"language {lang!r} is not among {', '.join(rules.languages)}"))
    if context is not None and rules.flood_accounts > 1:
        flood = _flood(post, rules, context, now)
        if flood is not None:
            found.append(flood)
    if post.possibly_sensitive:
        found.append(Hit("sensitive", Status.PENDING, "marked possibly sensitive by the network"))
    if rules.hold_links and _has_link(post):
        found.append(Hit("links", Status.PENDING, "has a link"))
    if rules.hold_media and post.media:
        found.append(Hit("media", Status.PENDING, "has a photo or video"))
    if handle in rules.trusted_authors:
        found.append(Hit("trusted_author", Status.APPROVED, f"@{handle} is trusted"))
    return found


def _flood(post: Post, rules: RuleSet, context: RuleContext, now: float) -> Hit | None:
    mine = shingles(post.text)
    if len(mine) < 3:  # "Bravo !" from many people is applause, not a bot flood
        return None
    similar = context.similar(mine, now - rules.flood_minutes * 60, rules.flood_similarity)
    accounts = {t.author for t in similar} | {post.author.id}
    if len(accounts) < rules.flood_accounts:
        return None
    group = similar[0].group_name()
    return Hit("bot_flood", Status.PENDING,
               f"near-identical text from {len(accounts)} accounts in "
               f"{rules.flood_minutes:g} minutes (group {group})")


# Holds that a trusted author still waits for: a flood is not the author's doing, and a
# post the network marks sensitive (content warning, sensitive media, self-label) is for a
# moderator to see before the room does, in pre- and post-moderation alike.
TRUST_CANNOT_SKIP = frozenset({"bot_flood", "sensitive"})


def decide(found: list[Hit], post_moderation: bool = False) -> Verdict:
    """The verdict from the hits: a reject wins, then a hold (trust beats every hold but a
    flood or a sensitive post), then trust, then the moderation mode."""
    reason = "; ".join(h.reason for h in found) or None
    for hit in found:
        if hit.effect is Status.REJECTED:
            return Verdict(Status.REJECTED, hit.rule, reason)
    trusted = next((h for h in found if h.effect is Status.APPROVED), None)
    for hit in found:
        if hit.effect is Status.PENDING and (trusted is None or hit.rule in TRUST_CANNOT_SKIP):
            return Verdict(Status.PENDING, hit.rule, reason)
    if trusted is not None:
        return Verdict(Status.APPROVED, trusted.rule, reason)
    if post_moderation:
        return Verdict(Status.APPROVED, "post_moderation", "shown at once in post-moderation")
    return Verdict(Status.PENDING)


def evaluate(post: Post, rules: RuleSet, context: RuleContext | None = None, now: float = 0.0,
             post_moderation: bool = False) -> Verdict:
    """The verdict of the rules on a post; reads `context` but never changes it."""
    return decide(hits(post, rules, context, now), post_moderation)


def admit(post: Post, rules: RuleSet) -> Post | None:
    """The post to queue for what arrived: a retweet's original, or None to ignore it."""
    if post.kind is not Kind.RETWEET:
        return post
    # A retweet is never shown itself: the room would see the same words twice.
    if rules.retweets == "drop" or post.referenced is None:
        return None
    return post.referenced


def remember(context: RuleContext, post: Post, verdict: Verdict, now: float,
             rules: RuleSet) -> None:
    """Update the context after a post was evaluated, for the rate limit and floods."""
    admitted = verdict.rule not in ("rate_limit", "blocked_author")
    if rules.flood_accounts <= 1:
        # Flood detection off: no text is kept, only the rate limit's count.
        context.count(post.author.id, now, admitted)
        return
    mine = shingles(post.text)
    # A text joins the group of the oldest recent text like it, so a flood keeps one name.
    similar = context.similar(mine, now - rules.flood_minutes * 60, rules.flood_similarity)
    group = similar[0].group_name() if similar else group_key(mine)
    context.remember(post.author.id, mine, group, now, admitted)
