"""A faithful fake Mastodon server (REST, SSE and websocket streaming) and its recordings."""
