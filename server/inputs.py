"""What arrives from outside must be JSON hashwall can store and send on: checked at the edge.

JSON may spell a lone UTF-16 surrogate (`"\\ud800"`), which decodes to a Python string no
UTF-8 encoder accepts: stored or sent on, it fails far from where it came in. `parse`
refuses it, and JSON nested too deeply to decode, with a message saying what was expected.
"""

from __future__ import annotations

import json
from typing import Any

from moderation import jsoncodec

NO_SURROGATES = "expected text without lone UTF-16 surrogates (such as \\ud800)"


def encodable(value: Any) -> bool:
    """Whether `value` can be encoded as UTF-8 JSON (no lone surrogates anywhere)."""
    try:
        jsoncodec.dumps(value)
    except TypeError:
        return False
    return True


def parse(text: str | bytes) -> Any:
    """A JSON document from a client; ValueError saying why it cannot be used."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise ValueError("expected JSON nested less deeply") from None
    except ValueError:
        raise ValueError("expected a JSON message") from None
    if not encodable(value):
        raise ValueError(NO_SURROGATES)
    return value


def ascii_json(value: Any) -> str:
    """`value` as JSON with every non-ASCII character escaped: it can carry back even a lone
    surrogate a client sent, so the client recognises its own reference."""
    return json.dumps(value)
