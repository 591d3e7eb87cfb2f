"""Automatic rules: pure functions from a post to a verdict."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from moderation.post import Post, Status
from moderation.queue import Verdict


def fold(text: str) -> str:
    """Lower-case text without accents, for case- and accent-insensitive matching."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@dataclass(frozen=True)
class RuleSet:
    """The automatic rules in force."""

    trusted_authors: frozenset[str] = frozenset()
    blocked_words: tuple[str, ...] = ()
    post_moderation: bool = False
    _pattern: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        words = [fold(w).strip() for w in self.blocked_words if w.strip()]
        if words:
            alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
            pattern = re.compile(rf"(?<!\w)({alternatives})(?!\w)")
            object.__setattr__(self, "_pattern", pattern)

    def blocked_word(self, text: str) -> str | None:
        """The first blocked word or phrase found in the text, as a whole word."""
        if self._pattern is None:
            return None
        match = self._pattern.search(fold(text))
        return match.group(1) if match else None


def evaluate(post: Post, rules: RuleSet) -> Verdict:
    """The verdict of the rules on a post; the first rule that applies decides."""
    texts = [post.text, post.author.name]
    if post.referenced is not None:
        texts.append(post.referenced.text)
    for text in texts:
        word = rules.blocked_word(text)
        if word is not None:
            return Verdict(Status.REJECTED, "blocked_word", f"contains the blocked word {word!r}")
    if post.possibly_sensitive:
        return Verdict(Status.PENDING, "sensitive", "marked possibly sensitive by the network")
    if post.author.handle.lower() in rules.trusted_authors:
        return Verdict(Status.APPROVED, "trusted_author", f"@{post.author.handle} is trusted")
    if rules.post_moderation:
        return Verdict(Status.APPROVED, "post_moderation", "shown at once in post-moderation")
    return Verdict(Status.PENDING)
