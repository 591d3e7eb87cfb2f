"""Mastodon's streaming protocol parsed without sockets, from recorded streams and frames."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from moderation.exceptions import MalformedPayload
from server.sources.mastodon.protocol import (
    Comment,
    SseParser,
    StreamEvent,
    link_params,
    newest_id,
    parse_ws_message,
    retry_after,
    subscribe_message,
)
from tests.fake_mastodon.recordings import SSE_FILES, sse_recording


def _events(items: list[StreamEvent | Comment]) -> list[StreamEvent]:
    return [i for i in items if isinstance(i, StreamEvent)]


def test_recorded_sse_streams_parse_whole_or_byte_by_byte_alike() -> None:
    """Every recorded stream gives the same events fed at once or one byte at a time, and
    starts with the `:)` preamble."""
    assert len(SSE_FILES) == 4
    for path in SSE_FILES:
        body = path.read_bytes()
        whole = SseParser().feed(body)
        parser = SseParser()
        split = [item for i in range(len(body)) for item in parser.feed(body[i:i + 1])]
        assert whole == split
        assert whole[0] == Comment(")")


def test_the_recorded_user_stream_has_update_status_update_and_delete() -> None:
    """The recorded stream's six events come out typed: statuses as objects, delete as id."""
    items = _events(SseParser().feed(sse_recording("test_stream_user_direct__user__12.sse")))
    assert [e.event for e in items] == ["update", "notification", "update", "notification",
                                        "status.update", "delete"]
    update = items[0].payload
    assert isinstance(update, dict) and update["uri"].startswith("http://localhost:3000/")
    assert isinstance(items[4].payload, dict) and items[4].payload["edited_at"]
    assert isinstance(items[5].payload, str) and items[5].payload.isdigit()


def test_sse_accepts_crlf_and_cr_line_ends_and_multi_line_data() -> None:
    """Lines may end in CRLF or CR; several `data:` lines join with new lines."""
    parser = SseParser()
    items = parser.feed(b":thump\r\nevent: delete\r\ndata: 12\r")
    assert items == [Comment("thump")]
    assert parser.feed(b"\n\r\nevent: x\rdata: a\rdata: b\r\r") == [
        StreamEvent("delete", "12")]  # the last CR may be half of a CRLF: it waits
    assert parser.feed(b"\n") == [StreamEvent("x", "a\nb")]


def test_a_broken_update_payload_is_a_clear_error() -> None:
    """An update whose data is not a status says what was expected."""
    with pytest.raises(MalformedPayload, match="Expected the 'update' payload to be JSON"):
        SseParser().feed(b"event: update\ndata: {broken\n\n")


def test_websocket_frames_carry_the_payload_as_a_string() -> None:
    """A frame's payload is the status JSON as a string; delete carries the id."""
    status = {"id": "1", "uri": "https://piaille.fr/users/a/statuses/1"}
    frame = json.dumps({"stream": ["hashtag", "uemedef14"], "event": "update",
                        "payload": json.dumps(status)})
    assert parse_ws_message(frame) == StreamEvent("update", status, ("hashtag", "uemedef14"))
    deleted = json.dumps({"stream": ["hashtag", "uemedef14"], "event": "delete",
                          "payload": "109"})
    assert parse_ws_message(deleted) == StreamEvent("delete", "109", ("hashtag", "uemedef14"))
    with pytest.raises(MalformedPayload, match="answered an error: Unknown stream type"):
        parse_ws_message(json.dumps({"error": "Unknown stream type", "status": 400}))
    assert json.loads(subscribe_message("uemedef14")) == {
        "type": "subscribe", "stream": "hashtag", "tag": "uemedef14"}


def test_paging_and_rate_limit_headers() -> None:
    """Link parameters, the newest id (by length then digits) and the longest wait said."""
    link = ('<https://piaille.fr/api/v1/timelines/tag/a?max_id=5>; rel="next", '
            '<https://piaille.fr/api/v1/timelines/tag/a?min_id=9>; rel="prev"')
    assert link_params(link, "prev") == {"min_id": "9"}
    assert newest_id(["99", "100"], "98") == "100"
    now = datetime(2026, 8, 27, 9, 0, tzinfo=UTC)
    assert retry_after({"Retry-After": "120"}, now) == 120
    assert retry_after({"X-RateLimit-Reset": "2026-08-27T09:05:00.000Z"}, now) == 300
    assert retry_after({}, now) is None
