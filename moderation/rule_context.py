"""The memory the stateful rules read: recent posts per author, and recent texts for floods."""

from __future__ import annotations

import hashlib
import itertools
import re
from collections import deque
from dataclasses import dataclass, field

from moderation.blocklist import fold

_URL = re.compile(r"https?://\S+")
_MENTION = re.compile(r"@\w+")
_WORD = re.compile(r"\w+")


def shingles(text: str) -> frozenset[str]:
    """The words and word pairs of a text, without links, mentions, case or accents."""
    words = _WORD.findall(_MENTION.sub(" ", _URL.sub(" ", fold(text))))
    pairs = (f"{a} {b}" for a, b in itertools.pairwise(words))
    return frozenset((*words, *pairs))


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    """Jaccard similarity of two shingle sets (1.0 when both are empty)."""
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def group_key(text_shingles: frozenset[str]) -> str:
    """A short stable name for a group of near-identical texts, shown to moderators."""
    return hashlib.blake2s(" | ".join(sorted(text_shingles)).encode(), digest_size=3).hexdigest()


@dataclass(frozen=True, slots=True)
class RecentText:
    """A text seen recently: when, from whom, its shingles, and the group it belongs to."""

    at: float
    author: str
    shingles: frozenset[str]
    group: str


@dataclass
class RuleContext:
    """State kept by the pipeline between posts; the rules read it, `remember` updates it."""

    max_texts: int = 2000
    window: float = 3600.0
    admitted: dict[str, deque[float]] = field(default_factory=dict)
    texts: deque[RecentText] = field(default_factory=deque)

    def admitted_since(self, author: str, since: float) -> int:
        """How many of an author's posts reached the queue after `since`."""
        return sum(1 for at in self.admitted.get(author, ()) if at > since)

    def similar(self, text_shingles: frozenset[str], since: float,
                threshold: float) -> list[RecentText]:
        """Recent texts after `since` at least `threshold` similar to these shingles."""
        return [
            t for t in self.texts
            if t.at > since and similarity(t.shingles, text_shingles) >= threshold
        ]

    def remember(self, author: str, text_shingles: frozenset[str], group: str, now: float,
                 admitted: bool) -> None:
        """Record a post: its text always, its author's count only when it reached the queue."""
        if admitted:
            self.admitted.setdefault(author, deque()).append(now)
        self.texts.append(RecentText(now, author, text_shingles, group))
        self.prune(now)

    def prune(self, now: float) -> None:
        """Forget what is older than the window, and texts beyond `max_texts`."""
        horizon = now - self.window
        while self.texts and (self.texts[0].at <= horizon or len(self.texts) > self.max_texts):
            self.texts.popleft()
        for author in list(self.admitted):
            times = self.admitted[author]
            while times and times[0] <= horizon:
                times.popleft()
            if not times:
                del self.admitted[author]
