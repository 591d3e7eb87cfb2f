"""Blocked words and phrases: a small built-in list, and whole-word matching without accents."""

from __future__ import annotations

import re
import sys
import unicodedata

# Insults and profanity an organiser rarely wants on a projector, in French and English.
# Folded (lower case, no accents) like the text they are matched against; an organiser
# replaces the whole list with `blocked_words` in the rules file or the console.
BUILTIN_BLOCKED_WORDS: tuple[str, ...] = (
    # French
    "connard", "connasse", "conasse", "salope", "salaud", "pute", "putain", "fils de pute",
    "encule", "enculer", "batard", "merde", "merdique", "nique", "niquer", "ta gueule",
    "ferme ta gueule", "abruti", "cretin", "debile", "enfoire", "grognasse",
    # English
    "fuck", "fucking", "fucker", "motherfucker", "shit", "bullshit", "bitch", "cunt",
    "asshole", "bastard", "dickhead", "wanker", "twat", "slut", "whore", "retard",
)


# Every combining mark, deleted in one str.translate instead of a test per character.
_NO_MARKS = {cp: None for cp in range(sys.maxunicode + 1) if unicodedata.combining(chr(cp))}


def fold(text: str) -> str:
    """Lower-case text without accents, for case- and accent-insensitive matching."""
    return unicodedata.normalize("NFKD", text.casefold()).translate(_NO_MARKS)


def compile_blocklist(words: tuple[str, ...] | list[str]) -> re.Pattern[str] | None:
    """One pattern matching any of the words or phrases as whole words, or None."""
    folded = sorted({" ".join(fold(w).split()) for w in words if w.strip()}, key=len, reverse=True)
    if not folded:
        return None
    # A phrase matches across any run of spaces; a word never matches inside another word.
    alternatives = "|".join(r"\s+".join(map(re.escape, w.split(" "))) for w in folded)
    return re.compile(rf"(?<!\w)({alternatives})(?!\w)")


def find_blocked(pattern: re.Pattern[str] | None, text: str) -> str | None:
    """The first blocked word or phrase in the text, as folded, or None."""
    if pattern is None:
        return None
    match = pattern.search(fold(text))
    return " ".join(match.group(1).split()) if match else None
