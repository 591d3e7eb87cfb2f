"""The demo's photos: pictures bundled in server/demo/photos/ stand in for the X photo
addresses of the replay file, so `hashwall demo` shows photos with no network."""

from __future__ import annotations

import functools
import re
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

PHOTOS_DIR = Path(__file__).resolve().parent / "demo" / "photos"
PREFIX = "/demo/photos/"
# The photo and video-preview addresses X gives in a stream's `includes.media`.
REMOTE = re.compile(r"https://pbs\.twimg\.com/(?:media|ext_tw_video_thumb)/[\w/-]+\.jpg")
NAME = re.compile(r"[a-z-]+\.jpg")


def bundled() -> list[str]:
    """The bundled photos' file names, in a stable order."""
    return sorted(p.name for p in PHOTOS_DIR.glob("*.jpg"))


@functools.lru_cache(maxsize=4)
def photo_map(replay_file: Path | None) -> dict[str, str]:
    """Each X photo address of the replay file → a bundled photo, in turn."""
    names = bundled()
    if replay_file is None or not names:
        return {}
    found = dict.fromkeys(REMOTE.findall(replay_file.read_text(encoding="utf-8")))
    return {url: PREFIX + names[i % len(names)] for i, url in enumerate(found)}


async def photo(request: Request) -> Response:
    """GET /demo/photos/{name}: one bundled photo."""
    name = request.path_params["name"]
    if not NAME.fullmatch(name) or name not in bundled():
        raise HTTPException(404, f"expected one of the bundled photos, got {name!r}")
    return FileResponse(PHOTOS_DIR / name, media_type="image/jpeg",
                        headers={"cache-control": "public, max-age=86400"})


def route() -> Route:
    """The route that serves the bundled photos."""
    return Route(PREFIX + "{name}", photo)
