"""Mastodon's streaming and REST protocol details as pure, sans-I/O code: the SSE parser,
websocket frames, `Link` paging and rate-limit headers. No sockets here; the client feeds
bytes and strings in and gets events out."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from moderation.exceptions import MalformedPayload

UPDATE = "update"
DELETE = "delete"
STATUS_UPDATE = "status.update"
# The events a hashtag stream carries that a wall acts on; others are ignored.
STATUS_EVENTS = frozenset({UPDATE, DELETE, STATUS_UPDATE})
# Longest SSE line accepted; a longer one is a broken stream, not a status.
MAX_LINE = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One streaming event: `update` / `status.update` with a Status, `delete` with an id."""

    event: str
    payload: Any
    stream: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Comment:
    """An SSE comment line (`:)` preamble, `:thump` heartbeat): the connection is alive."""

    text: str


def decode_payload(event: str, data: str) -> Any:
    """A payload as its event carries it: a Status object, or the id of a deleted status."""
    if event == DELETE:
        return data.strip()
    try:
        value = json.loads(data)
    except ValueError as exc:
        raise MalformedPayload(f"Expected the {event!r} payload to be JSON, but got "
                               f"{data[:80]!r}: {exc}") from None
    if event in (UPDATE, STATUS_UPDATE) and not isinstance(value, dict):
        raise MalformedPayload(f"Expected the {event!r} payload to be a status object, "
                               f"but got {type(value).__name__}")
    return value


class SseParser:
    """Incremental `text/event-stream` parser (the WHATWG rules Mastodon's server follows):
    feed it bytes as they arrive, get whole events and comments back."""

    def __init__(self) -> None:
        self._buffer = b""
        self._event = ""
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[StreamEvent | Comment]:
        """Parse what arrived; keep an incomplete last line for the next chunk."""
        self._buffer += chunk
        out: list[StreamEvent | Comment] = []
        while True:
            cut = self._next_line_end()
            if cut is None:
                if len(self._buffer) > MAX_LINE:
                    raise MalformedPayload(f"Expected SSE lines under {MAX_LINE} bytes, but one "
                                           f"is longer")
                return out
            end, skip = cut
            line = self._buffer[:end].decode("utf-8", errors="replace")
            self._buffer = self._buffer[end + skip:]
            item = self._line(line)
            if item is not None:
                out.append(item)

    def _next_line_end(self) -> tuple[int, int] | None:
        """Where the next line ends (LF, CRLF or CR) and how long its terminator is."""
        lf, cr = self._buffer.find(b"\n"), self._buffer.find(b"\r")
        if cr == -1 or (lf != -1 and lf < cr):
            return (lf, 1) if lf != -1 else None
        if cr + 1 == len(self._buffer):
            return None  # a CR at the end may be the first half of CRLF
        return cr, 2 if self._buffer[cr + 1:cr + 2] == b"\n" else 1

    def _line(self, line: str) -> StreamEvent | Comment | None:
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return Comment(line[1:].strip())
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        return None  # id, retry and unknown fields mean nothing to a hashtag wall

    def _dispatch(self) -> StreamEvent | None:
        event, data = self._event or "message", "\n".join(self._data)
        self._event, self._data = "", []
        if not data and event == "message":
            return None
        if event not in STATUS_EVENTS:
            return StreamEvent(event, data)
        return StreamEvent(event, decode_payload(event, data))


def subscribe_message(tag: str) -> str:
    """The websocket message that subscribes to one hashtag stream."""
    return json.dumps({"type": "subscribe", "stream": "hashtag", "tag": tag})


def parse_ws_message(text: str) -> StreamEvent | None:
    """One websocket text frame: `{"stream": [...], "event": ..., "payload": "<JSON string>"}`;
    None for frames that carry no event (an error reply, a control message)."""
    try:
        frame = json.loads(text)
    except ValueError as exc:
        raise MalformedPayload(f"Expected a JSON websocket frame, but got {text[:80]!r}: "
                               f"{exc}") from None
    if not isinstance(frame, dict):
        raise MalformedPayload(f"Expected a websocket frame object, but got "
                               f"{type(frame).__name__}")
    if "error" in frame and "event" not in frame:
        raise MalformedPayload(f"the streaming server answered an error: {frame['error']}")
    event = frame.get("event")
    if not isinstance(event, str):
        return None
    stream = frame.get("stream")
    names = tuple(str(s) for s in stream) if isinstance(stream, list) else ()
    payload = frame.get("payload")
    if event not in STATUS_EVENTS:
        return StreamEvent(event, payload, names)
    if isinstance(payload, str):
        return StreamEvent(event, decode_payload(event, payload), names)
    if event == DELETE and isinstance(payload, int):
        return StreamEvent(event, str(payload), names)
    if event != DELETE and isinstance(payload, dict):
        return StreamEvent(event, payload, names)  # some servers send the object itself
    raise MalformedPayload(f"Expected the {event!r} payload as a string, but got "
                           f"{type(payload).__name__}")


def id_key(status_id: str) -> tuple[int, str]:
    """Sort key of Mastodon ids: numeric strings of growing length, compared as numbers."""
    return (len(status_id), status_id)


def newest_id(ids: list[str], current: str | None) -> str | None:
    """The newest of some status ids and the current cursor."""
    candidates = [i for i in ids if i] + ([current] if current else [])
    return max(candidates, key=id_key) if candidates else None


def link_params(header: str | None, rel: str) -> dict[str, str]:
    """The query parameters of the `Link` header's URL for `rel` (`next`, `prev`)."""
    if not header:
        return {}
    for part in header.split(","):
        section = part.split(";")
        if len(section) < 2:
            continue
        url = section[0].strip().strip("<>")
        rels = [s.strip() for s in section[1:]]
        if f'rel="{rel}"' in rels or f"rel={rel}" in rels:
            return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    return {}


def retry_after(headers: dict[str, str], now: datetime) -> float | None:
    """Seconds to wait from `Retry-After` (seconds or HTTP date) or Mastodon's
    `X-RateLimit-Reset` (an ISO 8601 moment), the longer one; None when neither says."""
    waits: list[float] = []
    value = headers.get("Retry-After")
    if value:
        value = value.strip()
        if value.isdigit():
            waits.append(float(value))
        else:
            try:
                waits.append((parsedate_to_datetime(value) - now).total_seconds())
            except (TypeError, ValueError):
                pass
    reset = headers.get("X-RateLimit-Reset")
    if reset:
        try:
            moment = datetime.fromisoformat(reset.strip().replace("Z", "+00:00"))
            waits.append((moment - now).total_seconds())
        except ValueError:
            pass
    return max(0.0, max(waits)) if waits else None
