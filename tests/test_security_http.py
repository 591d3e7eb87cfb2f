"""Attacks on the HTTP side of a real server: headers, static files, bodies, bad input."""

from __future__ import annotations

import httpx
import pytest

from server.settings import SettingsError
from tests.utils import TIMEOUT, make_settings, run_server


@pytest.mark.parametrize("value", [
    "https://cdn.example.org/l.svg; script-src 'unsafe-inline'",
    "https://cdn.example.org/l.svg script-src:",
    "https://cdn.example.org/l.svg\tdata:",
    "https://cdn.example.org,https://evil.example/l.svg",
    "https://cdn.example.org:notaport/l.svg",
    "https://user@cdn.example.org/l.svg",
])
def test_logo_url_that_would_inject_csp_directives_is_refused(value: str) -> None:
    """A logo address carrying `;`, spaces or a second source stops start-up, by name."""
    with pytest.raises(SettingsError) as caught:
        make_settings(logo_url=value)
    assert "HASHWALL_LOGO_URL" in str(caught.value)


async def test_csp_names_only_the_logo_origin(store_url: str) -> None:
    """The CSP a page carries names the logo's origin and nothing else of the setting."""
    settings = make_settings(store_url=store_url,
                             logo_url="https://CDN.example.org:8443/a/logo.svg?v=1#x")
    async with run_server(settings) as running, httpx.AsyncClient(timeout=TIMEOUT) as http:
        response = await http.get(f"{running.base}/wall")
    csp = response.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["img-src"].split() == [
        "'self'", "data:", "https://pbs.twimg.com", "https://abs.twimg.com",
        "https://video.twimg.com", "https://cdn.example.org:8443"]
    assert len(directives) == csp.count(";") + 1


async def test_static_serves_assets_only(store_url: str) -> None:
    """/static/ gives the pages' scripts and styles but never the package's Python files."""
    async with run_server(make_settings(store_url=store_url)) as running, \
            httpx.AsyncClient(base_url=running.base, timeout=TIMEOUT) as http:
        assert (await http.get("/static/js/wall.js")).status_code == 200
        assert (await http.get("/static/css/wall.css")).status_code == 200
        assert (await http.get("/static/img/hashwall.svg")).status_code == 200
        for path in ("/static/__init__.py", "/static/%5F%5Finit%5F%5F.py", "/static/__init__.PY",
                     "/static/wall.html", "/static/__pycache__/"):
            response = await http.get(path)
            assert response.status_code == 404, (path, response.status_code)
            assert "STATIC_DIR" not in response.text
