"""The memory the stateful rules read: recent posts per author, and recent texts for floods."""

from __future__ import annotations

import hashlib
import itertools
import math
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


def _size(text_shingles: frozenset[str]) -> int:
    return sum(len(s) for s in text_shingles)


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
    group: str  # "" until a flood needs it named: see `group_name`

    def group_name(self) -> str:
        """The name of the flood group this text belongs to."""
        return self.group or group_key(self.shingles)


@dataclass
class RuleContext:
    """State kept by the pipeline between posts; the rules read it, `remember` updates it."""

    max_texts: int = 2000
    # The recent texts' shingles may hold at most this many characters (about that many
    # bytes again in sets and index): long posts cannot grow the context past it.
    max_text_bytes: int = 2 * 1024 * 1024
    window: float = 3600.0
    admitted: dict[str, deque[float]] = field(default_factory=dict)
    # The recent texts by number; `_order` holds their numbers oldest first.
    texts: dict[int, RecentText] = field(default_factory=dict)
    _order: deque[int] = field(default_factory=deque)
    # Every shingle of the recent texts -> the numbers of the texts that have it.
    _index: dict[str, set[int]] = field(default_factory=dict)
    # Texts remembered while flood detection was off, not in the index yet: indexing is
    # most of the cost of remembering a post, so it waits until a search needs it.
    _unindexed: set[int] = field(default_factory=set)
    _count: itertools.count[int] = field(default_factory=itertools.count)
    _bytes: int = 0

    def admitted_since(self, author: str, since: float) -> int:
        """How many of an author's posts reached the queue after `since`."""
        return sum(1 for at in self.admitted.get(author, ()) if at > since)

    def similar(self, text_shingles: frozenset[str], since: float,
                threshold: float) -> list[RecentText]:
        """Recent texts after `since` at least `threshold` similar to these, oldest first."""
        if self._unindexed:
            for number in self._unindexed:
                self._add_to_index(number, self.texts[number].shingles)
            self._unindexed.clear()
        if not text_shingles or threshold <= 0:
            return [t for t in self.texts.values()
                    if t.at > since and similarity(t.shingles, text_shingles) >= threshold]
        # A text at least `threshold` similar shares at least one of any `probe` shingles of
        # this one (prefix filtering), so only the texts holding its rarest shingles are
        # compared instead of every recent text.
        probe = len(text_shingles) - math.ceil(threshold * len(text_shingles)) + 1
        rarest = sorted(text_shingles, key=lambda s: len(self._index.get(s, ())))[:probe]
        candidates: set[int] = set()
        for shingle in rarest:
            candidates |= self._index.get(shingle, set())
        found = (self.texts[n] for n in sorted(candidates))
        return [t for t in found
                if t.at > since and similarity(t.shingles, text_shingles) >= threshold]

    def remember(self, author: str, text_shingles: frozenset[str], group: str, now: float,
                 admitted: bool, index: bool = True) -> None:
        """Record a post: its text always, its author's count only when it reached the queue.

        Without `index` (flood detection is off) the text is indexed only when a search
        first needs it, so that turning flood detection on mid-event sees the recent texts.
        """
        if admitted:
            self.admitted.setdefault(author, deque()).append(now)
        number = next(self._count)
        self.texts[number] = RecentText(now, author, text_shingles, group)
        self._bytes += _size(text_shingles)
        self._order.append(number)
        if index:
            self._add_to_index(number, text_shingles)
        else:
            self._unindexed.add(number)
        self.prune(now, number)

    def count(self, author: str, now: float, admitted: bool) -> None:
        """Record a post for the rate limit only: with flood detection off no text is kept,
        and texts kept before it was turned off are forgotten."""
        if admitted:
            self.admitted.setdefault(author, deque()).append(now)
        if self.texts:
            self.texts.clear()
            self._order.clear()
            self._index.clear()
            self._unindexed.clear()
            self._bytes = 0
        self.prune(now, next(self._count))

    @property
    def text_bytes(self) -> int:
        """The characters of the shingles of the texts kept now."""
        return self._bytes

    def _add_to_index(self, number: int, text_shingles: frozenset[str]) -> None:
        for shingle in text_shingles:
            self._index.setdefault(shingle, set()).add(number)

    def prune(self, now: float, number: int = 0) -> None:
        """Forget what is older than the window, and texts beyond `max_texts`."""
        horizon = now - self.window
        while self._order:
            number = self._order[0]
            text = self.texts[number]
            if (text.at > horizon and len(self._order) <= self.max_texts
                    and self._bytes <= self.max_text_bytes):
                break
            self._order.popleft()
            del self.texts[number]
            self._bytes -= _size(text.shingles)
            if number in self._unindexed:
                self._unindexed.discard(number)
                continue
            for shingle in text.shingles:
                holders = self._index[shingle]
                holders.discard(number)
                if not holders:
                    del self._index[shingle]
        if number % 256:
            return  # every author's window is swept now and then, not on every post
        for author in list(self.admitted):
            times = self.admitted[author]
            while times and times[0] <= horizon:
                times.popleft()
            if not times:
                del self.admitted[author]
