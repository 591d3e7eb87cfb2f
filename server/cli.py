"""The `hashwall` command: serve, ingest, demo and x check."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import secrets
import signal
import socket
import sys
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from moderation.store import Store, StoreError, create_store
from server import listen
from server.settings import Settings, SettingsError, load_settings
from server.sources.base import Source

if TYPE_CHECKING:
    import uvicorn

    from server.pipeline import Pipeline

logger = logging.getLogger("hashwall")

DEMO_STORE_URL = "sqlite:///hashwall-demo.sqlite3"


def _port(value: int | None) -> int:
    if value is not None:
        return value
    env = os.environ.get("PORT", "8000")
    if not env.isdigit() or not 0 < int(env) < 65536:
        raise SettingsError(f"PORT: expected a port number from 1 to 65535, got {env!r}")
    return int(env)


async def _check_store(url: str) -> None:
    store = create_store(url)
    await store.open()
    await store.close()


def _shared(settings: Settings) -> bool:
    """Whether the store is shared by several processes (Redis): each role then runs apart."""
    return settings.store_url.startswith(("redis://", "rediss://"))


def _check_shared(settings: Settings) -> None:
    """Every web process on one Redis must sign sessions and check passwords alike."""
    if not settings.secret_key:
        raise SettingsError("HASHWALL_SECRET_KEY: required with a Redis store, so that every "
                            "web process signs moderator sessions with the same key; got nothing")
    if not settings.moderator_password and not settings.accounts_file:
        raise SettingsError("HASHWALL_MODERATOR_PASSWORD or HASHWALL_ACCOUNTS_FILE: required "
                            "with a Redis store, so that moderators sign in alike on every web "
                            "process; got neither")


def _local_url(host: str, port: int) -> str:
    """The address of this process when no public URL is configured."""
    if host in ("0.0.0.0", "::", ""):
        host = socket.gethostname()
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _public_url_warning(public_url: str, host: str, port: int, lan: str | None) -> str:
    """Why the QR code will not work for phones, and what to set instead."""
    suggestion = (f"set HASHWALL_PUBLIC_URL=http://{lan}:{port} (this machine's LAN address)"
                  if lan else "set HASHWALL_PUBLIC_URL to an address phones can open (this "
                  "machine has no LAN address)")
    if host in listen.LOOPBACK_HOSTS:
        return (f"HASHWALL_PUBLIC_URL is not set: the wall's QR code points at {public_url}, "
                f"which phones cannot open; serve with --host 0.0.0.0 and {suggestion}")
    return (f"HASHWALL_PUBLIC_URL is not set: the wall's QR code and the moderators' Origin "
            f"check use {public_url}, which phones may not resolve; {suggestion}")


def _serve(settings: Settings, host: str, port: int, ingest: bool, banner: bool) -> None:
    import uvicorn

    from server.app import create_app
    from server.limits import uvicorn_options
    from server.ws_protocol import FrameProtocol

    if _shared(settings):
        _check_shared(settings)
    # Read before binding: a connection limit the system cannot give stops us here.
    options = uvicorn_options(settings)
    if ingest:
        from server.sources import registry

        registry.chosen(settings)  # a source named without its settings stops us here
    asyncio.run(_check_store(settings.store_url))
    # Bound before anything says "up": a busy or impossible port is one line, not a traceback.
    sock = listen.bind(host, port)
    try:
        port = sock.getsockname()[1]
        lan = None
        if "public_url" not in settings.model_fields_set:
            settings = settings.model_copy(update={"public_url": _local_url(host, port)})
            if host in listen.LOOPBACK_HOSTS or host in listen.WILDCARD_HOSTS:
                lan = listen.lan_address()
                logger.warning("%s", _public_url_warning(settings.public_url, host, port, lan))
        password = settings.moderator_password or secrets.token_urlsafe(9)
        app = create_app(settings, ingest=ingest, password=password)
        if banner:
            where = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
            print(f"hashwall: wall {where}/wall  phones {where}/  moderators {where}/moderate",
                  flush=True)
            if lan and host in listen.WILDCARD_HOSTS:
                print(f"hashwall: phones on this network: http://{lan}:{port}/", flush=True)
            elif lan:
                print(f"hashwall: for phones on this network, run with --host 0.0.0.0 and "
                      f"HASHWALL_PUBLIC_URL=http://{lan}:{port}", flush=True)
            if not settings.moderator_password:
                print(f"hashwall: moderator password: {password}", flush=True)
        if not settings.secret_key:
            logger.warning("HASHWALL_SECRET_KEY is not set: moderators sign in again after a "
                           "restart")
        config = uvicorn.Config(app, host=host, port=port, ws=FrameProtocol,
                                ws_per_message_deflate=False, lifespan="on", log_level="info",
                                **options)
        # What is loaded by now (the modules, the app) lives as long as the process: frozen
        # out of the garbage collector's sight, it is no longer scanned by every full
        # collection, a pause of tens of milliseconds for every screen each time.
        gc.collect()
        gc.freeze()
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()


def demo_settings(**overrides: Any) -> Settings:
    """Settings for the demo: the bundled stream, its trusted authors and blocklist."""
    demo = resources.files("server.demo")
    config = json.loads(demo.joinpath("demo_config.json").read_text(encoding="utf-8"))
    values: dict[str, Any] = {
        "replay_file": Path(str(demo.joinpath("demo_stream.jsonl"))),
        "trusted_authors": config["trusted_authors"],
        "blocked_words": config["blocked_words"],
        "event_title": config["event"]["title"],
        "hashtags": config["event"]["hashtags"],
        "onsite_posts": True,
        "demo_photos": True,
    }
    if "HASHWALL_STORE_URL" not in os.environ:
        values["store_url"] = DEMO_STORE_URL
    values.update(overrides)
    return load_settings(**values)


async def _ingest(settings: Settings) -> int:
    from server.sources import registry
    from server.state import open_wall

    if not registry.chosen(settings):
        raise SettingsError("nothing to ingest: set X_BEARER_TOKEN, HASHWALL_MASTODON_INSTANCES "
                            "or HASHWALL_REPLAY_FILE, or name sources in HASHWALL_SOURCES")
    stop = asyncio.Event()
    status: tuple[uvicorn.Server, asyncio.Task[None]] | None = None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with open_wall(settings, serve=False) as wall:
        try:
            logger.info("ingesting from %s", ", ".join(s.name for s in wall.sources))
            status = await _ingest_status(settings, wall.store, wall.pipeline, wall.sources)
            failed = asyncio.create_task(_first_failure(wall.sources))
            stopped = asyncio.create_task(stop.wait())
            await asyncio.wait({failed, stopped}, return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            if failed.done():
                print(f"hashwall: ingest stopped: {failed.result()}", file=sys.stderr)
                return 1
            failed.cancel()
        finally:
            if status is not None:
                status[0].should_exit = True
                await asyncio.wait({status[1]}, timeout=5)
    return 0


async def _ingest_status(settings: Settings, store: Store, pipeline: Pipeline,
                         sources: list[Source]) -> tuple[uvicorn.Server, asyncio.Task[None]] | None:
    """Serve /metrics and /healthz of the ingest role when HASHWALL_INGEST_STATUS asks."""
    address = settings.ingest_status_address
    if address is None:
        return None
    import uvicorn

    from server.metrics import ingest_status_app

    config = uvicorn.Config(ingest_status_app(store, pipeline, sources), host=address[0],
                            port=address[1], lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(), name="ingest-status")
    logger.info("ingest status on http://%s:%d/healthz and /metrics", *address)
    return server, task


async def _first_failure(sources: list[Source]) -> str:
    """Wait until a source fails for good (a refused token); return its last error."""
    while True:
        for source in sources:
            health = source.health()
            if not health.get("ok", True):
                return f"{source.name}: {health.get('last_error')}"
        await asyncio.sleep(1.0)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hashwall", description="A real-time event hashtag wall.")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (("serve", "run the web app (and the X ingester when X_BEARER_TOKEN is set)"),
                       ("demo", "run the wall on the bundled demo stream")):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("--host", default="127.0.0.1")
        sub.add_argument("--port", type=int, default=None, help="default: $PORT, else 8000")
        if name == "demo":
            sub.add_argument("--speed", type=float, default=1.0,
                             help="replay speed factor; 0 replays everything at once")
    commands.add_parser("ingest", help="run the ingesters alone (the Procfile ingest role)")
    x = commands.add_parser("x", help="X API tools")
    x_commands = x.add_subparsers(dest="x_command", required=True)
    x_commands.add_parser("check", help="check the bearer token and list the active rules")
    bluesky = commands.add_parser("bluesky", help="Bluesky tools")
    bluesky_commands = bluesky.add_subparsers(dest="bluesky_command", required=True)
    bluesky_check = bluesky_commands.add_parser(
        "check", help="read Jetstream for a few seconds and one profile from the AppView")
    bluesky_check.add_argument("--seconds", type=float, default=5.0,
                               help="how long to count matching events (default 5)")
    mastodon = commands.add_parser("mastodon", help="Mastodon tools")
    mastodon_commands = mastodon.add_subparsers(dest="mastodon_command", required=True)
    mastodon_commands.add_parser("check", help="check each server, its token, the hashtag "
                                               "timeline and the streaming URL")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `hashwall` console script."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "serve":
            settings = load_settings()
            if _shared(settings):
                logger.info("the store is Redis: the sources run in `hashwall ingest`, not here")
            _serve(settings, args.host, _port(args.port), ingest=not _shared(settings),
                   banner=True)
        elif args.command == "demo":
            _serve(demo_settings(replay_speed=args.speed), args.host, _port(args.port),
                   ingest=True, banner=True)
        elif args.command == "ingest":
            return asyncio.run(_ingest(load_settings()))
        elif args.command == "x":
            return asyncio.run(_x_check(load_settings()))
        elif args.command == "bluesky":
            from server.sources.bluesky.check import check
            from server.sources.bluesky.config import config_from_settings

            return asyncio.run(check(config_from_settings(load_settings()), args.seconds, print))
        elif args.command == "mastodon":
            return asyncio.run(_mastodon_check(load_settings()))
    except (SettingsError, StoreError) as exc:
        print(f"hashwall: {exc}", file=sys.stderr)
        return 2
    except listen.ListenError as exc:
        print(f"hashwall: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


async def _x_check(settings: Settings) -> int:
    if not settings.x_bearer_token:
        raise SettingsError("X_BEARER_TOKEN: expected the X API bearer token, got nothing")
    from server.sources.x.check import check
    from server.sources.x.rules import XApiError

    try:
        result = await check(settings.x_bearer_token, settings.x_api_url)
    except XApiError as exc:
        print(f"hashwall: X API at {settings.x_api_url}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return 0


async def _mastodon_check(settings: Settings) -> int:
    if not settings.mastodon_instances:
        raise SettingsError("HASHWALL_MASTODON_INSTANCES: expected the base URLs of Mastodon "
                            "servers, got nothing")
    from server.sources.mastodon.check import check

    reports = await check(settings.mastodon_instances, settings.mastodon_token_map,
                          settings.hashtags)
    print(json.dumps(reports, indent=2, ensure_ascii=False))
    return 0 if all(report["ok"] for report in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
