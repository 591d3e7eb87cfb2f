"""The longest text a post may carry onto the queue and the screens, per network.

Each network has its own limit; the caps leave a wide margin above it (servers configure
more, graphemes hold several code points), so only text no network would send is cut.
A cut text ends with an ellipsis, and `extra["truncated_from"]` keeps its full length.
"""

from __future__ import annotations

import dataclasses

from moderation.post import Post

ELLIPSIS = "…"
# Characters (code points) kept per network.
CAPS = {
    "x": 26_000,  # long posts: 25,000 characters
    "mastodon": 10_000,  # 500 by default; some servers allow 5,000 or more
    "bluesky": 3_000,  # 300 graphemes, each possibly several code points
    "onsite": 2_000,  # the on-site form's own limit is a setting, 280 by default
}
DEFAULT_CAP = 26_000


def cap_text(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, ending with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    return text[:limit - 1].rstrip() + ELLIPSIS


def capped(post: Post) -> Post:
    """The post with its text (and a quoted post's) within its network's cap."""
    limit = CAPS.get(post.network, DEFAULT_CAP)
    referenced = capped(post.referenced) if post.referenced is not None else None
    if len(post.text) <= limit and referenced is post.referenced:
        return post
    changes: dict[str, object] = {"referenced": referenced}
    if len(post.text) > limit:
        changes["text"] = cap_text(post.text, limit)
        changes["extra"] = {**post.extra, "truncated_from": len(post.text)}
    return dataclasses.replace(post, **changes)  # type: ignore[arg-type]
