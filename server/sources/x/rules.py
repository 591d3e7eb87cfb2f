"""The wall's filtered-stream rules: build them from hashtags, sync them, report refusals."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from tweepy import StreamRule
from tweepy.errors import Forbidden, HTTPException, Unauthorized

logger = logging.getLogger(__name__)

DEFAULT_TAG_PREFIX = "hashwall"
# The rule length limit of the smallest X API access level; bigger levels allow more.
MAX_RULE_LENGTH = 512
# Letters, digits, underscores and marks in any script: what X recognises in a hashtag.
_HASHTAG = re.compile(r"^[^\W]+$")


class XApiError(Exception):
    """The X API refused a request or answered something unusable."""


class XAuthError(XApiError):
    """The X API refused the bearer token (HTTP 401 or 403)."""


class XRuleError(XApiError):
    """The X API refused one of the wall's stream rules."""


class RulesClient(Protocol):
    """The three rules calls of tweepy's AsyncStreamingClient that the sync uses."""

    async def get_rules(self, **params: Any) -> Any: ...

    async def add_rules(self, add: Any, **params: Any) -> Any: ...

    async def delete_rules(self, ids: Any, **params: Any) -> Any: ...


@dataclass(frozen=True)
class Rule:
    """One filtered-stream rule: its query, its tag and, once created, its id."""

    value: str
    tag: str | None = None
    id: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        """The JSON-ready form used by `hashwall x check` and /healthz."""
        return {"id": self.id, "value": self.value, "tag": self.tag}


@dataclass
class RuleSync:
    """What a rule sync changed and the rules active after it."""

    added: list[Rule] = field(default_factory=list)
    deleted: list[Rule] = field(default_factory=list)
    active: list[Rule] = field(default_factory=list)


def normalise_hashtags(hashtags: Iterable[str]) -> list[str]:
    """Hashtags without `#`, checked, deduplicated case-insensitively, in their given order."""
    seen: set[str] = set()
    result: list[str] = []
    for raw in hashtags:
        tag = raw.strip().lstrip("#＃")
        if not tag:
            continue
        if not _HASHTAG.match(tag):
            raise ValueError(
                f"Expected a hashtag made of letters, digits and underscores, but got {raw!r}"
            )
        if tag.casefold() not in seen:
            seen.add(tag.casefold())
            result.append(tag)
    return result


def owns(tag: str | None, tag_prefix: str) -> bool:
    """Whether a rule tag marks a rule this wall created: the prefix alone or `prefix:…`."""
    return tag is not None and (tag == tag_prefix or tag.startswith(tag_prefix + ":"))


def build_rules(
    hashtags: Iterable[str],
    *,
    tag_prefix: str = DEFAULT_TAG_PREFIX,
    exclude_retweets: bool = False,
    max_length: int = MAX_RULE_LENGTH,
) -> list[Rule]:
    """The rules that follow the hashtags, each within the length limit.

    OR is grouped in parentheses because juxtaposition (AND) binds before OR in the X rule
    language: `#a OR #b -is:retweet` would exclude retweets of `#b` only.
    """
    tags = [f"#{h}" for h in normalise_hashtags(hashtags)]
    suffix = " -is:retweet" if exclude_retweets else ""
    chunks: list[list[str]] = []
    for tag in tags:
        if chunks and len(_value(chunks[-1] + [tag], suffix)) <= max_length:
            chunks[-1].append(tag)
            continue
        if len(_value([tag], suffix)) > max_length:
            raise ValueError(
                f"Expected a hashtag that fits in a {max_length}-character rule, but got {tag!r}"
            )
        chunks.append([tag])
    return [
        Rule(value=_value(chunk, suffix), tag=f"{tag_prefix}:{index}")
        for index, chunk in enumerate(chunks, start=1)
    ]


def _value(tags: Sequence[str], suffix: str) -> str:
    """One rule value: a single hashtag, or the hashtags ORed inside parentheses."""
    body = tags[0] if len(tags) == 1 else "(" + " OR ".join(tags) + ")"
    return body + suffix


async def fetch_rules(client: RulesClient) -> list[Rule]:
    """The rules active on the stream now."""
    try:
        response = await client.get_rules()
    except (Unauthorized, Forbidden) as exc:
        raise auth_error(exc) from exc
    return [Rule(value=r.value, tag=r.tag or None, id=str(r.id)) for r in (response.data or [])]


async def sync_rules(client: RulesClient, desired: Sequence[Rule], tag_prefix: str) -> RuleSync:
    """Add the missing rules, then delete the stale rules this wall created; leave the rest."""
    result = RuleSync()
    current = await fetch_rules(client)
    present = {rule.value for rule in current}
    missing = [rule for rule in desired if rule.value not in present]
    wanted = {rule.value for rule in desired}
    stale = [r for r in current if owns(r.tag, tag_prefix) and r.value not in wanted]
    try:
        # Adding first keeps at least one rule in place, so a running stream never sees 409.
        if missing:
            response = await client.add_rules(
                [StreamRule(value=rule.value, tag=rule.tag) for rule in missing]
            )
            _raise_refused(response.errors or [])
            result.added = [
                Rule(value=r.value, tag=r.tag or None, id=str(r.id)) for r in response.data or []
            ]
        if stale:
            response = await client.delete_rules([rule.id for rule in stale])
            if response.errors:
                logger.warning("X did not delete every stale rule: %s", response.errors)
            result.deleted = stale
    except (Unauthorized, Forbidden) as exc:
        raise auth_error(exc) from exc
    deleted_ids = {rule.id for rule in result.deleted}
    result.active = [r for r in current if r.id not in deleted_ids] + result.added
    for rule in result.added:
        logger.info("Added stream rule %s (tag %s)", rule.value, rule.tag)
    for rule in result.deleted:
        logger.info("Deleted stale stream rule %s (tag %s)", rule.value, rule.tag)
    return result


def _raise_refused(errors: list[dict[str, Any]]) -> None:
    """Raise XRuleError for refused rules; a duplicate only means the rule already exists."""
    refused = []
    for error in errors:
        if str(error.get("type", "")).endswith("/duplicate-rules"):
            logger.info(
                "Stream rule %s exists already (id %s)", error.get("value"), error.get("id")
            )
            continue
        details = "; ".join(error.get("details") or []) or error.get("detail") or ""
        refused.append(f"{error.get('value', '')!r}: {error.get('title', 'refused')} {details}")
    if refused:
        raise XRuleError("X refused the stream rule " + " | ".join(r.strip() for r in refused))


def auth_error(exc: HTTPException) -> XAuthError:
    """A clear XAuthError for a 401 or 403 answer."""
    return XAuthError(
        f"X refused the bearer token ({describe_http_error(exc)}); "
        "check X_BEARER_TOKEN and the app's access level"
    )


def describe_http_error(exc: HTTPException) -> str:
    """`HTTP 403 Client Forbidden: <detail>` from a tweepy HTTP exception."""
    status = getattr(exc.response, "status", None) or getattr(exc.response, "status_code", "?")
    problem = getattr(exc, "problem", None) or {}
    title = problem.get("title") or getattr(exc.response, "reason", "") or ""
    detail = problem.get("detail") or "; ".join(exc.api_messages)
    text = f"HTTP {status} {title}".strip()
    return f"{text}: {detail}" if detail and detail != title else text
