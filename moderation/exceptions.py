"""Errors raised by the moderation package."""

from __future__ import annotations


class ModerationError(Exception):
    """Base class of every moderation error."""


class MalformedPayload(ModerationError):
    """A source sent something that is not a post we can read."""


class UnknownPost(ModerationError):
    """A decision named a post id that the queue does not hold."""


class DecisionConflict(ModerationError):
    """A decision arrived for a post whose status had already changed."""


class InvalidAction(ModerationError):
    """A decision named an action that does not exist or does not apply."""


class InvalidRules(ModerationError):
    """A rules file or a rules edit holds a value the rules cannot use."""
