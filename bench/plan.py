"""How big each scenario of the bench is: the full run of `make bench`, and the smoke run."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Plan:
    """The sizes, repetitions and rates of one bench run."""

    name: str
    # Fan-out cost: connected clients, runs at each size, deliveries per run.
    sizes: list[int]
    runs: int
    client_posts: int
    # Approve-to-screen latency at `latency_clients`, approvals at `rate` per second.
    latency_clients: int
    tracers: int
    approvals: int
    rate: float
    latency_runs: int
    # Slow client: healthy clients, approvals per phase and rate, the most while stalled.
    slow_healthy: int
    slow_approvals: int
    slow_rate: float
    slow_most: int
    slow_runs: int
    slow_grace: float
    # Idle connections: steps of connected sockets; None means the open-file limit.
    idle_steps: list[int | None]
    # Ingest: items per run and runs, per source.
    ingest_items: int
    ingest_runs: int
    # Whether hashwall is also measured on Redis (when the Redis store and server exist).
    redis: bool = True
    # The whole run stops after this many seconds, reporting what it measured by then.
    limit: float = 15 * 60
    settings: dict[str, str] = field(default_factory=dict)

    def posts_needed(self, scenario: str) -> int:
        """Pending posts a hashwall target must hold for every approval of a scenario."""
        if scenario == "cost":
            cost = sum(max(1, round(self.client_posts / s)) * self.runs for s in self.sizes)
            return cost + self.approvals * self.latency_runs + 50
        if scenario == "slow":
            batch = max(1, self.slow_approvals // 10)
            return (self.slow_approvals + self.slow_most + 2 * batch) * self.slow_runs + 50
        return 50

FULL = Plan(
    name="full",
    sizes=[1000, 5000, 10000], runs=5, client_posts=50_000,
    latency_clients=5000, tracers=20, approvals=20, rate=2.0, latency_runs=3,
    # The control phase as long as the stalled one (the drop comes after about 420 posts):
    # a pause of the server's garbage collector, every several hundred posts, then falls
    # as often in either, and the p99s compare like with like.
    slow_healthy=1000, slow_approvals=400, slow_rate=40.0, slow_most=800, slow_runs=3,
    slow_grace=6.0,
    idle_steps=[10_000, None],
    ingest_items=2000, ingest_runs=3,
)

SMOKE = Plan(
    name="smoke",
    sizes=[100, 300], runs=2, client_posts=1500,
    latency_clients=300, tracers=3, approvals=5, rate=10.0, latency_runs=1,
    slow_healthy=100, slow_approvals=50, slow_rate=50.0, slow_most=300, slow_runs=1,
    slow_grace=1.0,
    idle_steps=[300],
    ingest_items=200, ingest_runs=1,
    redis=False, limit=90,
    settings={"client_queue_size": "8"},
)
