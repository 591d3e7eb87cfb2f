"""JSON in and out of the stores and the stream, through orjson.

Encoding posts, events and audit entries was the largest single cost of queueing a post
with the standard library's json; orjson does the same work several times faster. The
output is the same JSON (UTF-8 text, no ASCII escapes); anything that is not JSON data
raises TypeError, a bad document ValueError (json.JSONDecodeError), as with json.
"""

from __future__ import annotations

from typing import Any

import orjson


def dumps(value: Any) -> str:
    """`value` as JSON text."""
    return orjson.dumps(value).decode()


def loads(text: str | bytes) -> Any:
    """The value of a JSON document."""
    return orjson.loads(text)
