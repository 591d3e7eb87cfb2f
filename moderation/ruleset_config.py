"""The rules as plain data: read from a JSON or TOML file or a console edit, validated."""

from __future__ import annotations

import json
import tomllib
from dataclasses import fields
from pathlib import Path
from typing import Any

from moderation.exceptions import InvalidRules
from moderation.rules import RuleSet

CHOICES = {"retweets": ("count", "drop"), "replies": ("allow", "hold", "reject")}
LISTS = ("blocked_words", "blocked_authors", "trusted_authors", "languages")
HANDLE_LISTS = ("blocked_authors", "trusted_authors")
# name: (smallest, largest) for the numeric rules.
NUMBERS: dict[str, tuple[float, float]] = {
    "rate_limit_posts": (0, 10_000),
    "rate_limit_minutes": (0.1, 1440),
    "flood_accounts": (0, 10_000),
    "flood_minutes": (0.1, 1440),
    "flood_similarity": (0.1, 1.0),
}
INTEGERS = ("rate_limit_posts", "flood_accounts")
FLAGS = ("hold_links", "hold_media")
FIELDS = tuple(f.name for f in fields(RuleSet) if not f.name.startswith("_"))


def _list(name: str, value: Any) -> list[str]:
    if isinstance(value, str):
        value = [part for part in value.replace("\n", ",").split(",")]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidRules(f"{name}: expected a list of strings, got {value!r}")
    cleaned = [v.strip() for v in value if v.strip()]
    if name in HANDLE_LISTS:
        cleaned = [v.lstrip("@").lower() for v in cleaned]
    if name == "languages":
        cleaned = [v.lower() for v in cleaned]
    return list(dict.fromkeys(cleaned))


def _number(name: str, value: Any) -> float | int:
    low, high = NUMBERS[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRules(f"{name}: expected a number from {low:g} to {high:g}, got {value!r}")
    if not low <= value <= high:
        raise InvalidRules(f"{name}: expected a number from {low:g} to {high:g}, got {value!r}")
    if name in INTEGERS:
        if value != int(value):
            raise InvalidRules(f"{name}: expected a whole number, got {value!r}")
        return int(value)
    return float(value)


def rules_from_dict(data: Any, base: RuleSet | None = None) -> RuleSet:
    """A RuleSet from plain data; fields left out keep `base`'s (or the default) value."""
    if not isinstance(data, dict):
        raise InvalidRules(f"expected an object of rules, got {type(data).__name__}")
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise InvalidRules(f"unknown rule {unknown[0]!r}; expected some of {', '.join(FIELDS)}")
    values = rules_to_dict(base or RuleSet())
    for name, value in data.items():
        if name in LISTS:
            values[name] = _list(name, value)
        elif name in NUMBERS:
            values[name] = _number(name, value)
        elif name in FLAGS:
            if not isinstance(value, bool):
                raise InvalidRules(f"{name}: expected true or false, got {value!r}")
            values[name] = value
        elif value not in CHOICES[name]:
            raise InvalidRules(f"{name}: expected one of {', '.join(CHOICES[name])}, "
                               f"got {value!r}")
        else:
            values[name] = value
    return RuleSet(
        blocked_words=tuple(values["blocked_words"]),
        blocked_authors=frozenset(values["blocked_authors"]),
        trusted_authors=frozenset(values["trusted_authors"]),
        languages=tuple(values["languages"]),
        **{k: values[k] for k in (*CHOICES, *NUMBERS, *FLAGS)},
    )


def rules_to_dict(rules: RuleSet) -> dict[str, Any]:
    """The JSON-ready form of a RuleSet, lists sorted where order does not matter."""
    data: dict[str, Any] = {name: getattr(rules, name) for name in FIELDS}
    for name in LISTS:
        value = data[name]
        data[name] = sorted(value) if isinstance(value, frozenset) else list(value)
    return data


def load_rules_file(path: Path) -> dict[str, Any]:
    """The rules of a `.json` or `.toml` file, checked; `InvalidRules` names the problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidRules(f"cannot read the rules file {path}: {exc}") from None
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise InvalidRules(f"the rules file {path} is not valid "
                           f"{'TOML' if path.suffix == '.toml' else 'JSON'}: {exc}") from None
    rules = data.get("rules", data) if isinstance(data, dict) else data
    try:
        rules_from_dict(rules)
    except InvalidRules as exc:
        raise InvalidRules(f"the rules file {path}: {exc}") from None
    assert isinstance(rules, dict)
    return rules


def seed_rules(file_rules: dict[str, Any] | None, trusted: list[str], blocked: list[str],
               retweets: str) -> RuleSet:
    """The first rules of a fresh store: the file's, plus the words and handles of settings."""
    rules = rules_from_dict({"retweets": retweets, **(file_rules or {})})
    extra: dict[str, Any] = {}
    if trusted:
        extra["trusted_authors"] = sorted(rules.trusted_authors | set(trusted))
    if blocked:
        extra["blocked_words"] = [*rules.blocked_words, *blocked]
    return rules_from_dict(extra, rules) if extra else rules
