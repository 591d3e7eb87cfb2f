"""What a hashtag is, and the one form in which every source compares hashtags."""

from __future__ import annotations

import re
import unicodedata

# A hashtag's name: word characters (letters of any script, digits, underscore, and the
# combining marks some scripts need), at least one of them not a digit; X, Mastodon and
# Bluesky all refuse names made of digits only.
_NAME = re.compile(r"[\w\u0300-\u036f\u200c\u00b7]+")
MAX_LENGTH = 100


def fold(tag: str) -> str:
    """The comparable form of a hashtag: no `#`, NFKC, case-folded (`#UEMedef14` → `uemedef14`)."""
    return unicodedata.normalize("NFKC", tag.removeprefix("#").removeprefix("＃")).casefold()


def problem(tag: str) -> str | None:
    """Why `tag` (with or without its `#`) is not a hashtag a network would index, or None."""
    name = unicodedata.normalize("NFKC", tag).removeprefix("#")
    if not name:
        return "a hashtag needs a name after '#'"
    if len(name) > MAX_LENGTH:
        return f"a hashtag is at most {MAX_LENGTH} characters long"
    if not _NAME.fullmatch(name):
        bad = next(ch for ch in name if not _NAME.fullmatch(ch))
        return f"a hashtag holds only letters, digits and '_', not {bad!r}"
    if name.isdigit():
        return "a hashtag needs at least one letter"
    return None
