"""The servers under test, each in its own process pinned to the server core, and B0, B1.

Each target knows how to start, how to make one post reach every screen (`publish`), and
where its process is, so that its CPU time and memory can be read from /proc.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bench.procstat import child_setup, cpu_seconds, holds_socket_to, pin, rss_bytes

START_TIMEOUT = 180.0
ROOT = Path(__file__).resolve().parent.parent


def _ephemeral_low() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range", encoding="ascii") as file:
            return int(file.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A TCP port nobody listens on, below the ephemeral range.

    Thousands of load sockets take ephemeral ports: one picked there could be taken
    as a source port between choosing it and the server binding it.
    """
    low = _ephemeral_low()
    for _ in range(200):
        port = random.randrange(max(1024, low - 12000), low)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HASHWALL_", "X_BEARER")) and k != "PORT"}
    env["PYTHONPATH"] = str(ROOT)
    return env


class Target:
    """One server process under test."""

    label = ""

    def __init__(self, folder: Path, core: int | None) -> None:
        self.folder = folder
        self.core = core
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.http: httpx.AsyncClient | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return clean_env()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _spawn(self, command: list[str], log_name: str) -> subprocess.Popen[bytes]:
        self.folder.mkdir(parents=True, exist_ok=True)
        core = self.core

        def prepare() -> None:
            child_setup()
            pin(0, core)

        with (self.folder / f"{log_name}.log").open("ab") as log:
            return subprocess.Popen(command, env=self.env(), cwd=self.folder, stdout=log,
                                    stderr=log, preexec_fn=prepare)

    async def start(self) -> None:
        """Start the process, pin it, and wait until it answers."""
        self.process = self._spawn(self.command(), self.label)
        self.http = httpx.AsyncClient(base_url=self.base, timeout=60.0)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.label} exited with {self.process.returncode}; "
                                   f"see {self.folder / (self.label + '.log')}")
            try:
                if await self.ready():
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.label} did not become ready in {START_TIMEOUT:.0f} s")

    async def ready(self) -> bool:
        assert self.http is not None
        response = await self.http.get("/publish")
        return response.status_code == 200

    async def publish(self) -> None:
        """Make one post reach every connected screen."""
        assert self.http is not None
        response = await self.http.get("/publish")
        response.raise_for_status()

    def cpu(self) -> float:
        """CPU seconds used by the server process so far."""
        return cpu_seconds(self.pid)

    def rss(self) -> int:
        """Resident memory of the server process, in bytes."""
        return rss_bytes(self.pid)

    def holds(self, peer_port: int) -> bool:
        """Whether the server process still holds its socket to a client's port."""
        return holds_socket_to(self.pid, peer_port)

    def _terminate(self, process: subprocess.Popen[bytes] | None = None) -> None:
        process = process or self.process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)

    async def stop(self) -> None:
        """Stop the process."""
        if self.http is not None:
            await self.http.aclose()
        await asyncio.to_thread(self._terminate)


class RawBaseline(Target):
    """B0: one prebuilt frame written to every transport."""

    label = "B0"

    def __init__(self, folder: Path, core: int | None, message: Path) -> None:
        super().__init__(folder, core)
        self.message = message

    def command(self) -> list[str]:
        return [sys.executable, "-m", "bench.baseline_raw", "--port", str(self.port),
                "--message", str(self.message)]


class WebsocketsBaseline(RawBaseline):
    """B1: `websockets.broadcast()`."""

    label = "B1"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "bench.baseline_websockets", "--port", str(self.port),
                "--message", str(self.message)]
