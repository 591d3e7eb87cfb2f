"""What can go wrong reading Bluesky."""

from __future__ import annotations


class BlueskyError(Exception):
    """Something about Bluesky did not go as expected."""


class MalformedFrame(BlueskyError):
    """A Jetstream frame that is not the event it should be."""


class DictionaryError(BlueskyError):
    """The zstd dictionary for compressed frames is missing or unusable."""


class AppViewError(BlueskyError):
    """The AppView answered with an error or something that is not a profile list."""
