"""The documentation keeps up with the code."""

from __future__ import annotations

from pathlib import Path

from server.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_every_setting_is_documented() -> None:
    """Each setting appears, by its environment variable, in docs/settings.md."""
    text = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    for name in Settings.model_fields:
        env = "X_BEARER_TOKEN" if name == "x_bearer_token" else f"HASHWALL_{name.upper()}"
        assert f"`{env}`" in text, f"{env} is missing from docs/settings.md"


def test_every_websocket_message_type_is_documented() -> None:
    """Each message type and error code appears in docs/protocol.md and protocol.js."""
    from moderation.wire import ErrorCode, MessageType

    doc = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")
    js = (ROOT / "wall_ui" / "js" / "protocol.js").read_text(encoding="utf-8")
    types = [*MessageType, *ErrorCode]
    assert types
    for value in types:
        assert f"`{value}`" in doc, f"{value} is missing from docs/protocol.md"
        assert f'"{value}"' in js, f"{value} is missing from wall_ui/js/protocol.js"
