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

from moderation.queue import MODERATION, PUBLIC
from moderation.store import Store, StoreUnavailable, create_store
from server import api, auth, export, metrics, pages, sockets
from server.claim_sweeper import ClaimSweeper
from server.fanout import Hub
from server.heartbeat import Heartbeat
from server.limits import BodyLimit, StoreDeadline
from server.pipeline import Pipeline, pipeline_for
from server.sessions import SessionCheck
from server.settings import Settings
from server.sources import registry
from server.sources.base import Source
from server.state import Wall

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


def sources_for(settings: Settings, pipeline: Pipeline) -> list[Source]:
    """The sources the settings ask for (server/sources/registry.py)."""
    return registry.sources_for(settings, pipeline, pipeline.store)


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
        opened = store or create_store(settings.store_url)
        await opened.open()
        public = Hub(opened, PUBLIC, settings.client_queue_size)
        moderation = Hub(opened, MODERATION, settings.client_queue_size)
        pipeline = pipeline_for(settings, opened)
        wall = Wall(settings, opened, moderator_password, public, moderation, pipeline)
        sweeper = ClaimSweeper(opened)
        heartbeat = Heartbeat([public, moderation], settings.heartbeat_seconds)
        app.state.wall = wall
        try:
            await public.start()
            await moderation.start()
            await heartbeat.start()
            await pipeline.start()
            await sweeper.start()
            if ingest:
                wall.sources = sources_for(settings, pipeline)
                for source in wall.sources:
                    await source.start()
            logger.info("hashwall is up; store %s", opened.url)
            yield
        finally:
            for source in reversed(wall.sources):
                await source.stop()
            await sweeper.stop()
            await pipeline.stop()
            await heartbeat.stop()
            await moderation.stop()
            await public.stop()
            await opened.close()

    routes = [
        Route("/healthz", api.healthz),
        Route("/metrics", metrics.endpoint),
        Route("/api/posts", api.list_posts),
        Route("/api/posts/{post_id}/{action}", api.decide, methods=["POST"]),
        Route("/api/login", auth.login, methods=["POST"]),
        Route("/api/logout", auth.logout, methods=["POST"]),
        Route("/api/me", auth.whoami),
        Route("/api/rules", api.rules, methods=["GET"]),
        Route("/api/rules", api.command, methods=["PUT"]),
        Route("/api/audit", export.audit),
        Route("/api/export.json", export.export_json),
        Route("/api/export/audit.csv", export.export_audit_csv),
        Route("/api/export/posts.csv", export.export_posts_csv),
        Route("/api/{command}", api.command, methods=["POST"]),
        WebSocketRoute("/ws", sockets.public_socket),
        WebSocketRoute("/ws/moderate", sockets.moderator_socket),
        *pages.routes(),
    ]
    https = settings.public_url.startswith("https://")
    middleware = [
        Middleware(pages.SecurityHeaders, settings=settings),
        Middleware(BodyLimit, limit=settings.max_body_bytes),
        Middleware(StoreDeadline, seconds=settings.store_timeout),
        Middleware(SessionMiddleware, secret_key=secret_key, session_cookie="hashwall_session",
                   same_site="strict", https_only=https),
        Middleware(SessionCheck),
    ]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan,
                    exception_handlers={HTTPException: _http_error,
                                        StoreUnavailable: _store_unavailable})
    app.state.moderator_password = moderator_password
    return app
