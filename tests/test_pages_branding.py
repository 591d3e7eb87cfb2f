"""The pages' security headers, branding endpoints, QR code and the history cursor."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
import qrcode
import qrcode.constants

from server.settings import SettingsError
from tests.utils import make_post, make_settings, moderator, run_server

RENDER_JS = Path(__file__).resolve().parents[1] / "wall_ui" / "js" / "render.js"
BRANDED = {
    "event_title": "Forum <b>& Co</b>",
    "hashtags": ["#forum24", "#demain"],
    "language": "en",
    "logo_url": "https://cdn.example.org/logo.svg",
    "color_background": "#ffffff",
    "color_text": "#101010",
    "color_accent": "#c2185b",
    "color_card": "#f3f3f3",
    "font_family": "Inter, 'Open Sans', sans-serif",
    "wall_layout": "spotlight",
    "wall_rotate_seconds": 20,
    "public_url": "https://wall.example.org",
}


def _directives(header: str) -> dict[str, list[str]]:
    parts = (d.strip().split() for d in header.split(";") if d.strip())
    return {p[0]: p[1:] for p in parts}


async def test_every_page_and_file_carries_the_content_security_policy(store_url: str) -> None:
    """Pages, scripts and API answers forbid inline script and talk to this server only."""
    async with run_server(make_settings(store_url=store_url)) as server:
        async with httpx.AsyncClient(base_url=server.base) as http:
            for path in ("/", "/wall", "/moderate", "/static/js/wall.js", "/api/config",
                         "/api/qr.svg", "/api/posts?status=approved", "/healthz"):
                response = await http.get(path)
                assert response.status_code == 200, path
                csp = _directives(response.headers["content-security-policy"])
                assert csp["script-src"] == ["'self'"], path
                assert csp["connect-src"] == ["'self'"], path
                assert csp["object-src"] == ["'none'"], path
                assert "'unsafe-inline'" not in response.headers["content-security-policy"]
                assert set(csp["img-src"]) == {"'self'", "data:", "https://pbs.twimg.com",
                                               "https://abs.twimg.com", "https://video.twimg.com"}
                assert response.headers["x-content-type-options"] == "nosniff"


async def test_config_gives_the_pages_their_branding(store_url: str) -> None:
    """GET /api/config answers the branding settings, and the logo's origin joins img-src."""
    settings = make_settings(store_url=store_url, **BRANDED)
    async with run_server(settings) as server, httpx.AsyncClient(base_url=server.base) as http:
        response = await http.get("/api/config")
        page = await http.get("/wall")
    assert response.json() == {
        "title": "Forum <b>& Co</b>",
        "hashtags": ["#forum24", "#demain"],
        "language": "en",
        "logo_url": "https://cdn.example.org/logo.svg",
        "colors": {"background": "#ffffff", "text": "#101010", "accent": "#c2185b",
                   "card": "#f3f3f3"},
        "font_family": "Inter, 'Open Sans', sans-serif",
        "layout": "spotlight",
        "rotate_seconds": 20.0,
        "phone_url": "https://wall.example.org/",
        "qr_url": "/api/qr.svg",
        "announcement_style": "banner",
        "theme": "dark",
    }
    assert "https://cdn.example.org" in _directives(
        response.headers["content-security-policy"])["img-src"]
    # The title reaches the HTML escaped, with the language, before any script runs.
    assert '<html lang="en">' in page.text
    assert "<title>Forum &lt;b&gt;&amp; Co&lt;/b&gt;</title>" in page.text
    assert "<b>" not in page.text


def _svg_matrix(svg: str) -> list[list[bool]]:
    size = int(re.search(r'viewBox="0 0 (\d+) \1"', svg).group(1))  # type: ignore[union-attr]
    path = re.search(r'<path fill="#000" d="([^"]*)"', svg).group(1)  # type: ignore[union-attr]
    grid = [[False] * size for _ in range(size)]
    for x, y, width in re.findall(r"M(\d+),(\d+)h(\d+)v1h-\3z", path):
        for dx in range(int(width)):
            grid[int(y)][int(x) + dx] = True
    return grid


async def test_qr_code_opens_the_phone_view(store_url: str) -> None:
    """The QR code's modules are those of HASHWALL_PUBLIC_URL + "/" and nothing else."""
    settings = make_settings(store_url=store_url, public_url="https://wall.example.org/")
    async with run_server(settings) as server, httpx.AsyncClient(base_url=server.base) as http:
        response = await http.get("/api/qr.svg")
    assert response.headers["content-type"].startswith("image/svg+xml")
    expected = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    expected.add_data("https://wall.example.org/")
    expected.make(fit=True)
    assert _svg_matrix(response.text) == expected.get_matrix()
    other = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    other.add_data("https://wall.example.org/wall")
    other.make(fit=True)
    assert _svg_matrix(response.text) != other.get_matrix()


@pytest.mark.parametrize(
    ("overrides", "variable", "words"),
    [
        ({"color_accent": "red"}, "HASHWALL_COLOR_ACCENT", "expected a colour like"),
        ({"color_text": "#777777", "color_card": "#666666"}, "HASHWALL_COLOR_CARD", "contrast"),
        ({"color_text": "#000", "color_card": "#fff"}, "HASHWALL_COLOR_CARD",
         "HASHWALL_COLOR_BACKGROUND #0f1420"),
        ({"language": "de"}, "HASHWALL_LANGUAGE", "expected one of fr, en"),
        ({"logo_url": "javascript:alert(1)"}, "HASHWALL_LOGO_URL", "expected a path"),
        ({"logo_url": "//evil.example/x.png"}, "HASHWALL_LOGO_URL", "expected a path"),
        ({"font_family": "x;}body{display:none"}, "HASHWALL_FONT_FAMILY", "CSS font names"),
        ({"wall_layout": "carousel"}, "HASHWALL_WALL_LAYOUT", "grid"),
        ({"wall_rotate_seconds": 1}, "HASHWALL_WALL_ROTATE_SECONDS", "3"),
    ],
)
def test_bad_branding_settings_are_refused_by_name(
    overrides: dict[str, object], variable: str, words: str
) -> None:
    """A branding setting hashwall cannot use stops it with a message naming the variable."""
    with pytest.raises(SettingsError) as caught:
        make_settings(**overrides)
    message = str(caught.value)
    assert variable in message and words in message


async def test_older_posts_page_back_through_the_history(store_url: str) -> None:
    """before= gives the approved posts shown earlier, page after page, newest first."""
    settings = make_settings(store_url=store_url, trusted_authors=["trusted"])
    async with run_server(settings) as server:
        for n in range(1, 26):
            await server.wall.pipeline.ingest(make_post(n, handle="trusted"))
        await server.wall.pipeline.ingest(make_post(26, handle="someone"))  # never shown
        async with moderator(server) as http:
            newest = (await http.get("/api/posts?status=approved&limit=10")).json()["posts"]
            assert [p["id"] for p in newest] == [f"x:{n}" for n in range(25, 15, -1)]
            page = await http.get("/api/posts", params={"status": "approved",
                                                        "before": "x:16", "limit": "10"})
            assert [p["id"] for p in page.json()["posts"]] == [f"x:{n}" for n in range(15, 5, -1)]
            assert (await http.post("/api/posts/x:6/hide")).status_code == 200
            last = await http.get("/api/posts?status=approved&before=x:6&limit=10")
            assert [p["id"] for p in last.json()["posts"]] == [f"x:{n}" for n in range(5, 0, -1)]
            for query, words in [
                ("status=approved&before=x:26", "x:26"),
                ("status=approved&before=x:404", "x:404"),
                ("status=pending&before=x:6", "status=approved only"),
                ("status=approved&before=x:6&limit=0", "limit"),
            ]:
                response = await http.get(f"/api/posts?{query}")
                assert response.status_code == 400, query
                assert words in response.json()["error"], query


async def test_static_files_are_compressed_for_slow_networks(store_url: str) -> None:
    """Scripts and styles travel gzipped to a browser that accepts it."""
    async with run_server(make_settings(store_url=store_url)) as server:
        async with httpx.AsyncClient(base_url=server.base) as http:
            response = await http.get("/static/js/render.js",
                                      headers={"accept-encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    assert int(response.headers["content-length"]) < len(response.content)
    assert response.content == RENDER_JS.read_bytes()

