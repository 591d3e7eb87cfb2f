"""The Starlette app: `create_app(settings)` and the lifespan that owns every resource."""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute

from moderation.store import Store, StoreUnavailable
from server import api, auth, export, metrics, pages, sockets
from server.limits import BodyLimit, StoreDeadline
from server.sessions import SessionCheck
from server.settings import Settings
from server.sources.onsite import api as onsite_api
from server.state import open_wall

logger = logging.getLogger(__name__)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    body: dict[str, object] = {"error": exc.detail}
    if isinstance(exc, auth.Throttled):
        body["retry_after"] = exc.retry_after
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


async def _store_unavailable(request: Request, exc: Exception) -> JSONResponse:
    # Redis is restarting or out of reach: the same request may succeed in a moment.
    return JSONResponse({"error": str(exc)}, status_code=503, headers={"Retry-After": "1"})


def create_app(
    settings: Settings,
    *,
    ingest: bool = True,
    store: Store | None = None,
    password: str | None = None,
) -> Starlette:
    """A hashwall web app; with `ingest` it also runs the sources inside the same process."""
    secret_key = settings.secret_key or secrets.token_urlsafe(32)
    moderator_password = password or settings.moderator_password or secrets.token_urlsafe(9)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with open_wall(settings, store=store, password=moderator_password,
                             secret_key=secret_key, ingest=ingest) as wall:
            app.state.wall = wall
            logger.info("hashwall is up; store %s", wall.store.url)
            yield

    routes = [
        Route("/healthz", api.healthz),
        Route("/metrics", metrics.endpoint),
        Route("/api/posts", api.list_posts),
        Route("/api/posts/{post_id:path}/{action}", api.decide, methods=["POST"]),
        Route("/api/login", auth.login, methods=["POST"]),
        Route("/api/logout", auth.logout, methods=["POST"]),
        Route("/api/me", auth.whoami),
        Route("/api/rules", api.rules, methods=["GET"]),
        Route("/api/rules", api.command, methods=["PUT"]),
        Route("/api/audit", export.audit),
        Route("/api/export.json", export.export_json),
        Route("/api/export/audit.csv", export.export_audit_csv),
        Route("/api/export/posts.csv", export.export_posts_csv),
        *onsite_api.routes(),
        Route("/api/{command}", api.command, methods=["POST"]),
        WebSocketRoute("/ws", sockets.public_socket),
        WebSocketRoute("/ws/moderate", sockets.moderator_socket),
        *pages.routes(),
    ]
    https = settings.public_url.startswith("https://")
    middleware = [
        Middleware(pages.SecurityHeaders, settings=settings),
        # A phone's post carries a photo: its own limit, plus room for the text fields.
        Middleware(BodyLimit, limit=settings.max_body_bytes,
                   paths={"/api/submissions": settings.onsite_max_photo_bytes + 64 * 1024}),
        Middleware(StoreDeadline, seconds=settings.store_timeout),
        Middleware(SessionMiddleware, secret_key=secret_key, session_cookie="hashwall_session",
                   same_site="strict", https_only=https),
        Middleware(SessionCheck),
    ]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan,
                    exception_handlers={HTTPException: _http_error,
                                        StoreUnavailable: _store_unavailable})
    return app
