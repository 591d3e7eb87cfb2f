"""Bluesky through Jetstream: the stream's protocol, the hashtag match, the normaliser and
the source that follows the event's hashtags live."""
