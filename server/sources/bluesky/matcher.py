"""Whether a post record carries one of the event's hashtags: in a tag facet, in
`record.tags`, or typed in the text, compared in the one folded form (`fold`)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from moderation.hashtags import fold

TAG_FEATURE = "app.bsky.richtext.facet#tag"
# A `#name` typed in the text, at its start or after a space, the way Bluesky's apps find
# them: the name runs to the next space or punctuation that is not `_`.
TEXT_TAG = re.compile(r"(?:^|(?<=\s))[#＃]([^\W][\w\u0300-\u036f\u200c\u00b7]*)")


def record_tags(record: dict[str, Any]) -> Iterator[str]:
    """Every hashtag of a post record, as written (without `#`), facets first."""
    facets = record.get("facets")
    if isinstance(facets, list):
        for facet in facets:
            features = facet.get("features") if isinstance(facet, dict) else None
            if not isinstance(features, list):
                continue
            for feature in features:
                if isinstance(feature, dict) and feature.get("$type") == TAG_FEATURE:
                    tag = feature.get("tag")
                    if isinstance(tag, str):
                        yield tag
    tags = record.get("tags")
    if isinstance(tags, list):
        yield from (tag for tag in tags if isinstance(tag, str))
    text = record.get("text")
    if isinstance(text, str) and ("#" in text or "＃" in text):
        yield from TEXT_TAG.findall(text)


class HashtagMatcher:
    """The event's hashtags, folded once; answers for each post record."""

    def __init__(self, hashtags: Iterable[str]) -> None:
        self.wanted = frozenset(fold(tag) for tag in hashtags)

    def matched(self, record: dict[str, Any]) -> list[str]:
        """The event's hashtags the record carries (folded, each once), in order found."""
        found: list[str] = []
        for tag in record_tags(record):
            folded = fold(tag)
            if folded in self.wanted and folded not in found:
                found.append(folded)
        return found

    def matches(self, record: dict[str, Any]) -> bool:
        """Whether the record carries at least one of the event's hashtags."""
        return any(fold(tag) in self.wanted for tag in record_tags(record))
