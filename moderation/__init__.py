"""Posts, the moderation queue and the rules that feed it."""
