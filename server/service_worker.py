"""GET /sw.js: the public pages' service worker, told its cache version and what to keep."""

from __future__ import annotations

import hashlib
import json
import posixpath
import re

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from wall_ui import STATIC_DIR

# The pages that must open while the server is out of reach, by path and file. Never the
# moderator console: moderators must see the truth or an error, not a stale copy.
PAGES = {"/": "index.html", "/wall": "wall.html"}
# What those pages fetch besides their files; the service worker refreshes them on each load.
API = ("/api/config", "/api/qr.svg")
# The line of sw.js the server fills in.
BUILD_LINE = 'const BUILD = { version: "dev", precache: [] };'

_REFERENCE = re.compile(r'(?:href|src)="(/static/[^"?#]+)"')
_IMPORT = re.compile(r'''\b(?:from|import)\s*\(?\s*["'](\.{1,2}/[^"'?#]+)["']''')


def _file(url: str) -> bytes:
    """A static file's bytes from its /static/ address."""
    path = (STATIC_DIR / url.removeprefix("/static/")).resolve()
    if STATIC_DIR not in path.parents:
        raise ValueError(f"expected a file under the static directory, got {url!r}")
    return path.read_bytes()


def static_files() -> list[str]:
    """Every /static/ file the public pages load: their links, scripts and all they import."""
    found: list[str] = []
    todo = [url for page in PAGES.values()
            for url in _REFERENCE.findall((STATIC_DIR / page).read_text(encoding="utf-8"))]
    while todo:
        url = todo.pop(0)
        # A name that only looked like an import (in a comment, say) is not a file: skip it.
        if url in found or not (STATIC_DIR / url.removeprefix("/static/")).is_file():
            continue
        found.append(url)
        if url.endswith(".js"):
            base = posixpath.dirname(url)
            todo += [posixpath.normpath(posixpath.join(base, name))
                     for name in _IMPORT.findall(_file(url).decode("utf-8"))]
    return found


def build() -> dict[str, object]:
    """The cache version (a hash of every file kept) and the addresses to keep."""
    files = static_files()
    digest = hashlib.sha256()
    for name in [*PAGES.values(), "sw.js"]:
        digest.update((STATIC_DIR / name).read_bytes())
    for url in files:
        digest.update(url.encode() + b"\0" + _file(url))
    return {"version": digest.hexdigest()[:12], "precache": [*PAGES, *files, *API]}


def script() -> str:
    """sw.js with its build line filled in."""
    template = (STATIC_DIR / "sw.js").read_text(encoding="utf-8")
    if template.count(BUILD_LINE) != 1:
        raise RuntimeError(f"expected wall_ui/sw.js to hold the line {BUILD_LINE!r} once")
    return template.replace(BUILD_LINE, f"const BUILD = {json.dumps(build())};")


def route() -> Route:
    """/sw.js at the root, so that it may serve / and /wall; computed once, at start."""
    text = script()

    async def service_worker(request: Request) -> Response:
        # Revalidated on every check: a deploy reaches the screens at their next load.
        return Response(text, media_type="application/javascript",
                        headers={"cache-control": "no-cache"})

    return Route("/sw.js", service_worker)
