"""The three pages and their static files, with the security headers every page carries."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wall_ui import STATIC_DIR

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data: https://pbs.twimg.com https://abs.twimg.com https://video.twimg.com; "
    "media-src 'self' https://video.twimg.com; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


def _page(filename: str) -> Route:
    path = STATIC_DIR / filename

    async def page(request: Request) -> Response:
        return FileResponse(path, media_type="text/html; charset=utf-8",
                            headers={"cache-control": "no-cache"})

    return Route("/" + filename.removesuffix(".html").replace("index", ""), page)


def routes() -> list[Route | Mount]:
    """The page routes and the static mount."""
    return [
        _page("index.html"),
        _page("wall.html"),
        _page("moderate.html"),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]


class SecurityHeaders:
    """Adds the Content-Security-Policy and friends to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)
