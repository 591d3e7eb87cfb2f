"""The static pages: phone view, projector wall and moderator console."""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent
