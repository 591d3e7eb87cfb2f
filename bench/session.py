"""One run of the bench: its plan, its folder, its cores, its scenarios and their results."""

from __future__ import annotations

import asyncio
import logging
import platform
import shutil
import time
from pathlib import Path
from typing import Any

from bench import posts
from bench.cost import fan_out_cost
from bench.hashwall_target import Hashwall
from bench.idle import idle_connections
from bench.ingest_runs import ingest_rates
from bench.latency import latency_run
from bench.load import Load
from bench.plan import Plan
from bench.procstat import pin, plan_cores, raise_nofile
from bench.slow_client import slow_client_run
from bench.targets import RawBaseline, Target, WebsocketsBaseline
from bench.tracers import Tracers

logger = logging.getLogger("bench")

SCENARIOS = ("cost", "latency", "idle", "slow", "ingest")
# Leave room under the open-file limit for the process's own files and the tracers.
FD_MARGIN = 200


class Bench:
    """One run of the bench: its plan, its folder, its cores and what it measured."""

    def __init__(self, plan: Plan, folder: Path, scenarios: set[str]) -> None:
        self.plan = plan
        self.folder = folder
        self.scenarios = scenarios
        self.server_core, self.load_core = plan_cores()
        self.nofile = raise_nofile()
        self.message = folder / "message.json"
        self.redis: Any = None
        self.results: dict[str, Any] = {}

    def prepare(self) -> None:
        """Write the baselines' message and the queue every hashwall target starts with."""
        self.message.write_text(posts.shown_message(), encoding="utf-8")
        self.redis = self._start_redis()

    def _start_redis(self) -> Any:
        if not self.plan.redis:
            return None
        try:
            from moderation.stores.redis import RedisStore  # noqa: F401
            from tests.redis_server import RedisServer
        except ImportError as exc:
            logger.warning("Redis mode skipped: %s", exc)
            return None
        if shutil.which("redis-server") is None:
            logger.warning("Redis mode skipped: redis-server is not installed")
            return None
        server = RedisServer(self.folder / "redis")
        server.start()
        assert server.process is not None
        pin(server.process.pid, self.server_core)
        return server

    def stores(self) -> list[tuple[str, str]]:
        """(label, store URL) of each hashwall mode this run measures."""
        modes = [("hashwall-sqlite", f"sqlite:///{self.folder / 'sqlite'}")]
        if self.redis is not None:
            modes.append(("hashwall-redis", self.redis.url))
        return modes

    def hashwall(self, label: str, store: str, scenario: str) -> Hashwall:
        """A fresh hashwall target; SQLite gets a new file, Redis a flushed database."""
        if store.startswith("sqlite"):
            store = f"{store}-{scenario}.sqlite3"
        else:
            import redis

            redis.Redis(port=self.redis.port).flushall()
        # Only the posts the scenario approves: the queue fills at start, before it is ready.
        replay = self.folder / f"approvals-{scenario}.jsonl"
        items = posts.stream_items(self.plan.posts_needed(scenario), originals_only=True)
        post_ids = posts.write_replay(replay, items)
        return Hashwall(self.folder, self.server_core, store, replay, post_ids, label,
                        **self.plan.settings)

    async def with_target(self, target: Target, work: Any) -> Any:
        """Start a target and a load generator, run `work(target, load)`, stop both."""
        load = Load(self.load_core)
        await load.start()
        try:
            await target.start()
            return await work(target, load)
        finally:
            await load.close()
            await load.stop()
            await target.stop()

    async def cost_and_latency(self) -> None:
        """Fan-out cost for every target; latency at its size for hashwall targets."""
        plan = self.plan
        cost: dict[str, Any] = {}
        latency: dict[str, Any] = {}
        targets: list[Target] = [RawBaseline(self.folder, self.server_core, self.message),
                                 WebsocketsBaseline(self.folder, self.server_core, self.message)]
        targets += [self.hashwall(label, store, "cost") for label, store in self.stores()]
        for target in targets:
            started = time.monotonic()

            async def at_size(target: Target, size: int) -> int:
                if "latency" not in self.scenarios or not isinstance(target, Hashwall):
                    return 0
                if size != plan.latency_clients:
                    return 0
                tracers = Tracers(f"ws://127.0.0.1:{target.port}/ws", plan.tracers)
                await tracers.start()
                try:
                    latency[target.label] = [
                        await latency_run(target, tracers, plan.approvals, plan.rate)
                        for _ in range(plan.latency_runs)
                    ]
                finally:
                    await tracers.stop()
                return plan.approvals * plan.latency_runs

            async def work(target: Target, load: Load) -> Any:
                sizes = plan.sizes if "cost" in self.scenarios else [plan.latency_clients]
                runs = plan.runs if "cost" in self.scenarios else 0
                return await fan_out_cost(target, load, sizes, runs, plan.client_posts,
                                          at_size)

            try:
                cost[target.label] = await self.with_target(target, work)
            except RuntimeError as exc:
                # One broken target must not cost the figures of the others.
                logger.error("%s failed: %s", target.label, exc)
                self.results.setdefault("errors", {})[target.label] = str(exc)
                continue
            logger.info("%s measured in %.0f s", target.label, time.monotonic() - started)
        if "cost" in self.scenarios:
            self.results["fan_out"] = cost
        if latency:
            self.results["latency"] = latency
            self.results["latency_clients"] = plan.latency_clients

    async def idle(self) -> None:
        """Idle sockets for each server, up to the open-file limit."""
        most = self.nofile - FD_MARGIN
        steps = sorted({min(s or most, most) for s in self.plan.idle_steps})
        targets: list[Target] = [RawBaseline(self.folder, self.server_core, self.message),
                                 WebsocketsBaseline(self.folder, self.server_core, self.message),
                                 self.hashwall(*self.stores()[0], "idle")]
        results = {}
        for target in targets:

            async def work(target: Target, load: Load) -> Any:
                if isinstance(target, Hashwall):
                    # A wall in use: screens connect to a snapshot of recent posts.
                    for _ in range(30):
                        await target.publish()
                return await idle_connections(target, load, steps)

            results[target.label] = await self.with_target(target, work)
        self.results["idle"] = {"limit": self.nofile, "targets": results}

    async def slow(self) -> None:
        """One stalled socket beside healthy ones, on the embedded store."""
        plan = self.plan
        target = self.hashwall(*self.stores()[0], "slow")

        async def work(target: Target, load: Load) -> Any:
            assert isinstance(target, Hashwall)
            answer = await load.connect(target.port, plan.slow_healthy, greeting=True)
            tracers = Tracers(f"ws://127.0.0.1:{target.port}/ws", plan.tracers)
            await tracers.start()
            try:
                runs = []
                for _ in range(plan.slow_runs):
                    runs.append(await slow_client_run(target, tracers, plan.slow_approvals,
                                                      plan.slow_rate, plan.slow_most,
                                                      plan.slow_grace))
                return {"healthy": answer["open"] + plan.tracers, "runs": runs,
                        "queue_size": plan.settings.get("client_queue_size", "256")}
            finally:
                await tracers.stop()

        self.results["slow_client"] = await self.with_target(target, work)

    async def ingest(self) -> None:
        """Ingest rate from a replay file and from the fake X server."""
        redis_url = self.redis.url if self.redis is not None else None
        self.results["ingest"] = await ingest_rates(self.folder, self.plan.ingest_items,
                                                    self.plan.ingest_runs, self.server_core,
                                                    self.load_core, redis_url)

    async def run(self) -> dict[str, Any]:
        """Every scenario asked for, in turn."""
        started = time.monotonic()
        pin(0, self.load_core)
        self.prepare()
        try:
            async with asyncio.timeout(self.plan.limit):
                if self.scenarios & {"cost", "latency"}:
                    await self.cost_and_latency()
                if "idle" in self.scenarios:
                    await self.idle()
                if "slow" in self.scenarios:
                    await self.slow()
                if "ingest" in self.scenarios:
                    await self.ingest()
        except TimeoutError:
            # What was measured in time is still reported.
            logger.error("the bench ran out of its %.0f s and stopped", self.plan.limit)
            self.results.setdefault("errors", {})["bench"] = (
                f"stopped after {self.plan.limit:.0f} s; the scenarios after that are missing")
        finally:
            if self.redis is not None:
                self.redis.stop()
        self.results["run"] = {
            "plan": self.plan.name, "seconds": round(time.monotonic() - started, 1),
            "cores": {"server": self.server_core, "load": self.load_core},
            "open_file_limit": self.nofile, "python": platform.python_version(),
            "machine": platform.machine(), "kernel": platform.release(),
            "started": time.strftime("%Y-%m-%d %H:%M:%S"),
            "redis": self.redis is not None,
        }
        return self.results
