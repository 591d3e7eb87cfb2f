"""The three pages, the branding endpoints and the security headers every response carries."""

from __future__ import annotations

import html
from pathlib import PurePosixPath

from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server import branding, demo_photos, service_worker, theme
from server.settings import Settings, SettingsError
from wall_ui import STATIC_DIR

# The hosts the post networks serve avatars and media from (X today).
IMAGE_HOSTS = ("https://pbs.twimg.com", "https://abs.twimg.com", "https://video.twimg.com")
MEDIA_HOSTS = ("https://video.twimg.com",)


def content_security_policy(settings: Settings | None = None) -> str:
    """No inline script, sockets to ourselves only, images from the networks' hosts."""
    images = ["'self'", "data:", *IMAGE_HOSTS]
    media = ["'self'", *MEDIA_HOSTS]
    for host in _source_image_hosts(settings):
        for hosts in (images, media):
            if host not in hosts:
                hosts.append(host)
    origin = branding.logo_origin(settings) if settings else None
    if origin and origin not in images:
        images.append(origin)
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        f"img-src {' '.join(images)}; media-src {' '.join(media)}; "
        "connect-src 'self'; font-src 'self'; worker-src 'self'; object-src 'none'; "
        "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    )


def _source_image_hosts(settings: Settings | None) -> list[str]:
    """The image hosts of the sources the settings run (Bluesky's CDN, Mastodon's servers)."""
    if settings is None:
        return []
    from server.sources import registry

    try:
        entries = registry.chosen(settings)
    except SettingsError:
        return []  # start-up refuses such settings before any page is served
    return [host for entry in entries for host in entry.image_hosts]


CONTENT_SECURITY_POLICY = content_security_policy()


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.wall.settings
    return settings


def _page(filename: str) -> Route:
    path = STATIC_DIR / filename

    async def page(request: Request) -> Response:
        return FileResponse(path, media_type="text/html; charset=utf-8",
                            headers={"cache-control": "no-cache"})

    return Route("/" + filename.removesuffix(".html").replace("index", ""), page)


def _branded_page(filename: str) -> Route:
    """A page whose language and title follow the settings, so they are right before any JS."""
    template = (STATIC_DIR / filename).read_text(encoding="utf-8")

    async def page(request: Request) -> Response:
        settings = _settings(request)
        text = template
        text = text.replace('<html lang="fr">', f'<html lang="{settings.language}">', 1)
        title = html.escape(settings.event_title)
        text = text.replace("<title>hashwall</title>", f"<title>{title}</title>", 1)
        text = text.replace('<h1 id="title" class="title" dir="auto"></h1>',
                            f'<h1 id="title" class="title" dir="auto">{title}</h1>', 1)
        return HTMLResponse(text, headers={"cache-control": "no-cache"})

    return Route("/" + filename.removesuffix(".html").replace("index", ""), page)


async def config(request: Request) -> JSONResponse:
    """GET /api/config: the branding every page applies (public)."""
    config = branding.page_config(_settings(request))
    config["theme"] = await theme.current(request.app.state.wall)
    return JSONResponse(config, headers={"cache-control": "no-cache"})


async def qr_code(request: Request) -> Response:
    """GET /api/qr.svg: a QR code that opens the phone view."""
    svg = branding.qr_svg(branding.phone_url(_settings(request)))
    return Response(svg, media_type="image/svg+xml", headers={"cache-control": "no-cache"})


# What the pages load from /static/: nothing else in the package is served.
ASSET_SUFFIXES = frozenset({".css", ".js", ".svg", ".png", ".jpg", ".webp", ".ico", ".woff2",
                            ".json", ".webmanifest"})


class Assets(StaticFiles):
    """The pages' assets only: a file whose suffix is not an asset's is not found."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        suffix = PurePosixPath(path).suffix.lower()
        if suffix not in ASSET_SUFFIXES:
            return PlainTextResponse("Not Found", status_code=404)
        return await super().get_response(path, scope)


async def favicon(request: Request) -> Response:
    """GET /favicon.ico: the icon browsers and bookmark tools ask for on their own."""
    return FileResponse(STATIC_DIR / "img" / "favicon.ico", media_type="image/x-icon",
                        headers={"cache-control": "public, max-age=86400"})


def routes() -> list[Route | Mount]:
    """The page routes, the branding endpoints and the static mount."""
    return [
        _branded_page("index.html"),
        _branded_page("wall.html"),
        _page("moderate.html"),
        Route("/api/config", config),
        Route("/api/qr.svg", qr_code),
        demo_photos.route(),
        Route("/favicon.ico", favicon),
        service_worker.route(),
        # Compressed: phones on a slow venue network load the scripts in a few kilobytes.
        Mount("/static", app=GZipMiddleware(Assets(directory=STATIC_DIR), minimum_size=1000),
              name="static"),
    ]


class SecurityHeaders:
    """Adds the Content-Security-Policy and friends to every HTTP response."""

    def __init__(self, app: ASGIApp, settings: Settings | None = None) -> None:
        self.app = app
        self.headers = [
            (b"content-security-policy", content_security_policy(settings).encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)
