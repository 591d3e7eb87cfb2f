"""The event's branding as the pages receive it, its colour checks and the QR code to join."""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import qrcode
import qrcode.constants

from server import demo_photos

if TYPE_CHECKING:
    from server.settings import Settings

LANGUAGES = ("fr", "en")
HEX_COLOUR = re.compile(r"#(?:[0-9a-fA-F]{3}){1,2}")
# Font names and generic families only: the value becomes a CSS custom property.
FONT_FAMILY = re.compile(r"[\w ,'\"-]{1,200}")
# Below this, text on a projector washes out (WCAG AA for body text).
MIN_CONTRAST = 4.5


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def luminance(colour: str) -> float:
    """The relative luminance of a `#rgb` or `#rrggbb` colour (WCAG 2)."""
    digits = colour.lstrip("#")
    if len(digits) == 3:
        digits = "".join(ch * 2 for ch in digits)
    r, g, b = (int(digits[i:i + 2], 16) for i in (0, 2, 4))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast_ratio(one: str, two: str) -> float:
    """The WCAG contrast ratio of two colours, from 1 to 21."""
    light, dark = sorted((luminance(one), luminance(two)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


# One URL: no whitespace, quotes, separators of CSP directives or sources, nor controls.
_URL_FORBIDDEN = re.compile(r"[\s;,'\"<>\\\x00-\x1f\x7f]")
# A host name or an IPv4 address; what may stand in a CSP host source.
_HOST = re.compile(r"[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?")


def check_logo_url(value: str) -> str:
    """A logo address the pages may load: `/path` on this server or one http(s) URL."""
    expected = "expected a path like /static/img/logo.svg or one https:// URL"
    bad = _URL_FORBIDDEN.search(value)
    if bad is not None:
        raise ValueError(f"{expected}, got {value!r} (it contains {bad.group()!r})")
    if value.startswith("/") and not value.startswith("//"):
        return value
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as exc:
        raise ValueError(f"{expected}, got {value!r} ({exc})") from None
    host = parts.hostname or ""
    if parts.scheme in ("http", "https") and _HOST.fullmatch(host) and not parts.username:
        return value
    raise ValueError(f"{expected}, got {value!r}")


def logo_origin(settings: Settings) -> str | None:
    """The origin the logo comes from when it is not served by hashwall itself, rebuilt
    from its parsed parts so nothing else of the setting reaches the CSP."""
    if not settings.logo_url or settings.logo_url.startswith("/"):
        return None
    parts = urlsplit(check_logo_url(settings.logo_url))
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port is not None else ""
    return f"{parts.scheme}://{host}{port}"


def phone_url(settings: Settings) -> str:
    """The address of the phone view, as the QR code on the wall gives it."""
    return settings.public_url + "/"


def page_config(settings: Settings) -> dict[str, Any]:
    """What every page needs to brand itself: GET /api/config."""
    config: dict[str, Any] = {
        "title": settings.event_title,
        "hashtags": list(settings.hashtags),
        "language": settings.language,
        "logo_url": settings.logo_url,
        "colors": {
            "background": settings.color_background,
            "text": settings.color_text,
            "accent": settings.color_accent,
            "card": settings.color_card,
        },
        "font_family": settings.font_family,
        "layout": settings.wall_layout.value,
        "rotate_seconds": settings.wall_rotate_seconds,
        "phone_url": phone_url(settings),
        "qr_url": "/api/qr.svg",
        "announcement_style": settings.announcement_style.value,
        "theme": settings.theme.value,
    }
    if settings.demo_photos:
        config["photos"] = demo_photos.photo_map(settings.replay_file)
    return config


@functools.lru_cache(maxsize=8)
def qr_svg(data: str) -> str:
    """A QR code of `data` as a small SVG: dark modules on a white square with a quiet zone."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    code.add_data(data)
    code.make(fit=True)
    matrix = code.get_matrix()
    size = len(matrix)
    runs = []
    for y, row in enumerate(matrix):
        x = 0
        while x < size:
            if not row[x]:
                x += 1
                continue
            start = x
            while x < size and row[x]:
                x += 1
            runs.append(f"M{start},{y}h{x - start}v1h-{x - start}z")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" '
        f'width="{size * 8}" height="{size * 8}" shape-rendering="crispEdges">'
        f'<rect width="{size}" height="{size}" fill="#fff"/>'
        f'<path fill="#000" d="{"".join(runs)}"/></svg>'
    )
