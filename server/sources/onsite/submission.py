"""What a phone sends: the checks on its fields, and the post it becomes (pure)."""

from __future__ import annotations

import base64
import hashlib
import re
import unicodedata

from moderation.post import Author, Media, Post, post_id

NETWORK = "onsite"
# A client-chosen idempotency key: long enough to be unique when drawn at random.
KEY = re.compile(r"[A-Za-z0-9_-]{16,100}")
# Text keeps line breaks; anything else of Unicode's control category is refused.
ALLOWED_CONTROLS = frozenset("\n")
# Runs of blank lines collapse to one: a post is read from 20 m, not scrolled.
BLANK_LINES = re.compile(r"\n{3,}")


class SubmissionRefused(Exception):
    """A field of a submission is missing or not acceptable; `str()` says which and why."""

    def __init__(self, message: str, status: int = 400, code: str = "invalid") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def check_key(value: str | None) -> str:
    """The idempotency key, or `SubmissionRefused` saying what a key looks like."""
    if not value:
        raise SubmissionRefused("expected an idempotency key (the Idempotency-Key header or "
                                "the idempotency_key field), got none")
    if not KEY.fullmatch(value):
        raise SubmissionRefused("expected an idempotency key of 16 to 100 letters, digits, "
                                f"'-' or '_', got {value[:120]!r}")
    return value


def native_id(key: str) -> str:
    """The post's own id, the same for every retry of one key: so a retry is one post."""
    digest = hashlib.sha256(b"hashwall onsite key\0" + key.encode()).digest()[:16]
    return base64.b32encode(digest).decode().rstrip("=").lower()


def submission_id(key: str) -> str:
    """The post id of a submission: `onsite:<id>`."""
    return post_id(NETWORK, native_id(key))


def _bad_character(text: str, allowed: frozenset[str]) -> str | None:
    for ch in text:
        code = ord(ch)
        if 0xD800 <= code <= 0xDFFF:
            return f"a lone surrogate U+{code:04X}"
        if unicodedata.category(ch) == "Cc" and ch not in allowed:
            return f"the control character U+{code:04X}"
        if unicodedata.category(ch) == "Cn" and (code & 0xFFFE == 0xFFFE or
                                                 0xFDD0 <= code <= 0xFDEF):
            return f"the noncharacter U+{code:04X}"
    return None


def check_text(value: str | None, field: str, most: int, *, lines: bool) -> str:
    """A text field, NFC-normalised and trimmed, or `SubmissionRefused` saying why not."""
    if value is None or not value.strip():
        raise SubmissionRefused(f"{field}: expected some text, got nothing")
    text = unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n")).strip()
    bad = _bad_character(text, ALLOWED_CONTROLS if lines else frozenset())
    if bad is not None:
        raise SubmissionRefused(f"{field}: expected printable text, got {bad}")
    if lines:
        text = BLANK_LINES.sub("\n\n", text)
    if len(text) > most:
        raise SubmissionRefused(f"{field}: expected at most {most} characters, got {len(text)}",
                                code="too_long")
    return text


def device_author(device: str, name: str) -> Author:
    """The author of a phone's post: one id per device (the rate limit and flood rules count
    by it), no handle (a display name is not an account, so no trust or block by name)."""
    digest = hashlib.sha256(b"hashwall onsite device\0" + device.encode()).hexdigest()[:20]
    return Author(id=f"{NETWORK}:{digest}", handle="", name=name)


def make_post(key: str, author: Author, text: str, created_at: str,
              photo: Media | None = None) -> Post:
    """The post a submission becomes; it carries nothing private (no address, no token)."""
    return Post(
        id=submission_id(key),
        network=NETWORK,
        author=author,
        text=text,
        created_at=created_at,
        media=(photo,) if photo is not None else (),
    )
