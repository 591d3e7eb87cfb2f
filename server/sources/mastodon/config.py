"""The Mastodon settings' own syntax: server base URLs and `host=token` pairs (pure)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit


def parse_instances(values: list[str]) -> list[str]:
    """Base URLs of Mastodon servers, `https://` added to a bare host; a ValueError names
    what is wrong."""
    urls: list[str] = []
    for value in values:
        url = value if "://" in value else f"https://{value}"
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"expected server base URLs like https://piaille.fr, got {value!r}")
        if parts.path.strip("/") or parts.query or parts.fragment:
            raise ValueError(f"expected a server's base URL without a path, like "
                             f"https://{parts.netloc}, got {value!r}")
        base = f"{parts.scheme}://{parts.netloc.lower()}"
        if base not in urls:
            urls.append(base)
    return urls


def host_of(base_url: str) -> str:
    """The host (and port, when not the default) a server is named by."""
    return urlsplit(base_url).netloc.lower()


def parse_tokens(value: str) -> dict[str, str]:
    """`host=token` pairs separated by commas or new lines, or the path of a file of them
    (blank lines and `#` comments allowed); a ValueError names what is wrong."""
    text = value
    if "=" not in value:
        path = Path(value).expanduser()
        if not path.is_file():
            raise ValueError(f"expected host=token pairs or the path of a file of them, got "
                             f"{value[:40]!r} (no such file)")
        text = path.read_text(encoding="utf-8")
    tokens: dict[str, str] = {}
    for raw in text.replace(",", "\n").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        host, equals, token = line.partition("=")
        host = host.strip().lower()
        host = urlsplit(host).netloc if "://" in host else host.rstrip("/")
        token = token.strip()
        if not equals or not host or not token or " " in token:
            shown = line if not equals else f"{host}=…"
            raise ValueError(f"expected host=token, like piaille.fr=AbC123, got {shown!r}")
        tokens[host] = token
    return tokens
