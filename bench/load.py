"""The driver's handle on the load generator process (bench/loadgen.py)."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from bench.procstat import child_setup, pin
from bench.targets import ROOT, clean_env

COMMAND_TIMEOUT = 300.0


class Load:
    """A load generator process pinned to the load core, driven by JSON commands."""

    def __init__(self, core: int | None) -> None:
        self.core = core
        self.process: asyncio.subprocess.Process | None = None
        self.lock = asyncio.Lock()

    async def start(self) -> None:
        """Start the process."""
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.loadgen", cwd=ROOT, env=clean_env(),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            preexec_fn=child_setup,
        )
        pin(self.process.pid, self.core)

    async def command(self, op: str, timeout: float = COMMAND_TIMEOUT,
                      **args: Any) -> dict[str, Any]:
        """Send one command and return its answer."""
        assert self.process is not None and self.process.stdin and self.process.stdout
        async with self.lock:
            self.process.stdin.write((json.dumps({"op": op, **args}) + "\n").encode())
            await self.process.stdin.drain()
            line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        if not line:
            raise RuntimeError(f"the load generator exited (code {self.process.returncode})")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"load generator: {answer['error']}")
        return answer

    async def connect(self, port: int, n: int, greeting: bool,
                      path: str = "/ws") -> dict[str, Any]:
        """Open `n` more sockets (each greeted, with `greeting`); totals and failures."""
        return await self.command("connect", port=port, n=n, path=path, greeting=greeting)

    async def wait(self, messages: int, timeout: float = 60.0) -> dict[str, Any]:
        """Wait until the sockets received `messages` text messages in total."""
        return await self.command("wait", timeout=timeout + 5, messages=messages,
                                  **{"timeout_s": timeout})

    async def stats(self) -> dict[str, Any]:
        """Open sockets, messages received, sockets the server closed."""
        return await self.command("stats")

    async def close(self) -> dict[str, Any]:
        """Close every socket."""
        return await self.command("close")

    async def stop(self) -> None:
        """End the process."""
        if self.process is None:
            return
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), 15)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
