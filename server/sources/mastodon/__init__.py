"""Follow the event's hashtags on Mastodon servers: streaming, SSE or polling per server."""
