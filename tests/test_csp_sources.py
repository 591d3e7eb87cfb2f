"""The pages' Content-Security-Policy lets in the images of the sources that run, no more."""

from __future__ import annotations

from typing import Any

import pytest

from server.pages import content_security_policy
from tests.utils import make_settings


def directives(**settings: Any) -> dict[str, list[str]]:
    csp = content_security_policy(make_settings(**settings))
    return {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}


def test_no_network_source_adds_no_image_host() -> None:
    """Without Mastodon or Bluesky, images come from the site and X's hosts only."""
    found = directives()
    assert "https:" not in found["img-src"] and "https://cdn.bsky.app" not in found["img-src"]
    assert found["script-src"] == ["'self'"]


def test_bluesky_images_come_from_its_cdn() -> None:
    """With the Bluesky source, Bluesky's CDN (photos, avatars) joins img-src only."""
    found = directives(bluesky_jetstream_url="wss://jetstream.example.org")
    assert "https://cdn.bsky.app" in found["img-src"]
    assert "https:" not in found["img-src"]


@pytest.mark.parametrize("directive", ["img-src", "media-src"])
def test_mastodon_media_from_any_server_is_allowed(directive: str) -> None:
    """Each Mastodon server serves media from its own host: any HTTPS image or video may
    show, while scripts and connections stay limited to the site."""
    found = directives(mastodon_instances="https://piaille.fr")
    assert "https:" in found[directive]
    assert found["script-src"] == ["'self'"] and found["connect-src"] == ["'self'"]
