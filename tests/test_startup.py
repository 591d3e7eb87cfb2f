"""Starting `hashwall`: where it listens, what it says when it cannot, and the QR warning."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.limits import connection_limit, open_file_limit
from server.listen import lan_address, pick_lan_address
from tests.test_cli import ROOT, _env, _run
from tests.utils import make_settings

BANNER = "hashwall: wall "


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A loopback port another socket is listening on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def _one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert BANNER not in result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize("command", ["serve", "demo"])
def test_impossible_port_is_one_line(tmp_path: Path, command: str) -> None:
    """A port above 65535 stops the command with one line naming the range, and no banner."""
    line = _one_line_error(_run([command, "--port", "99999"], tmp_path))
    assert line == "hashwall: cannot listen on 127.0.0.1:99999: the port must be 0–65535"


@pytest.mark.parametrize("command", ["serve", "demo"])
def test_busy_port_is_one_line(tmp_path: Path, busy_port: int, command: str) -> None:
    """A port another program listens on stops the command with one line, and no banner."""
    line = _one_line_error(_run([command, "--port", str(busy_port)], tmp_path))
    assert line == f"hashwall: cannot listen on 127.0.0.1:{busy_port}: address already in use"


def test_lan_address_prefers_a_private_ipv4() -> None:
    """Loopback, link-local, IPv6 and junk are skipped; a private address beats a public one."""
    assert pick_lan_address(["127.0.1.1", "169.254.3.4", "fd00::2", "x", "203.0.114.9",
                             "192.168.1.20"]) == "192.168.1.20"
    assert pick_lan_address(["203.0.114.9"]) == "203.0.114.9"
    assert pick_lan_address(["127.0.0.1", "::1"]) is None


async def _started(tmp_path: Path, *args: str, **env: str) -> list[str]:
    """The lines a command prints (stdout and stderr as one) up to its moderator password."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server.cli", *args, "--port", "0", cwd=tmp_path,
        env=_env(PYTHONPATH=str(ROOT), **env), stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    lines: list[str] = []
    try:
        assert process.stdout is not None
        async with asyncio.timeout(60):
            while not lines or "moderator password:" not in lines[-1]:
                line = (await process.stdout.readline()).decode()
                assert line, f"exited before its banner: {lines}"
                lines.append(line.rstrip("\n"))
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 30)
    return lines


async def test_loopback_without_public_url_warns_and_suggests_the_lan_address(
        tmp_path: Path) -> None:
    """On loopback with no public URL, `serve` warns before its banner, naming the setting and
    this machine's LAN address, and the banner repeats that address for phones."""
    lines = await _started(tmp_path, "serve")
    banner = next(i for i, line in enumerate(lines) if line.startswith(BANNER))
    warnings = [line for line in lines[:banner] if "HASHWALL_PUBLIC_URL is not set" in line]
    assert len(warnings) == 1 and "phones cannot open" in warnings[0]
    assert "--host 0.0.0.0" in warnings[0]
    lan = lan_address()
    if lan is not None:
        assert f"HASHWALL_PUBLIC_URL=http://{lan}:" in warnings[0]
        assert any(f"http://{lan}:" in line for line in lines[banner:])
    else:
        assert "no LAN address" in warnings[0]


async def test_demo_on_all_interfaces_shows_the_lan_address(tmp_path: Path) -> None:
    """`hashwall demo --host 0.0.0.0` warns about the QR code and prints the phones' address."""
    lines = await _started(tmp_path, "demo", "--host", "0.0.0.0")
    assert any("HASHWALL_PUBLIC_URL is not set" in line for line in lines)
    lan = lan_address()
    if lan is not None:
        assert any(line.startswith(f"hashwall: phones on this network: http://{lan}:")
                   for line in lines)


async def test_public_url_set_means_no_warning(tmp_path: Path) -> None:
    """With HASHWALL_PUBLIC_URL set, start-up says nothing about the QR code."""
    lines = await _started(tmp_path, "serve", HASHWALL_PUBLIC_URL="https://wall.example.org")
    assert not any("HASHWALL_PUBLIC_URL" in line for line in lines)


def test_a_wall_on_sqlite_starts_without_redis_or_password_hashing(tmp_path: Path) -> None:
    """Opening a wall on SQLite with one shared password loads no redis package and hashes
    no password: both cost a tenth of a second at every start, for nothing."""
    script = (
        "import asyncio, sys, argon2.low_level as low\n"
        "from server.settings import load_settings\n"
        "from server.state import open_wall\n"
        "hashed = []\n"
        "real = low.hash_secret\n"
        "low.hash_secret = lambda *a, **k: hashed.append(1) or real(*a, **k)\n"
        "async def main():\n"
        f"    settings = load_settings(store_url='sqlite:///{tmp_path / 'wall.sqlite3'}',\n"
        "                             moderator_password='pw', secret_key='s')\n"
        "    async with open_wall(settings, serve=False):\n"
        "        pass\n"
        "asyncio.run(main())\n"
        "print(sorted(m for m in sys.modules if m == 'redis' or m.startswith('redis.')), "
        "len(hashed))\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=_env(),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["[]", "0"]


def test_a_connection_limit_the_system_cannot_give_is_one_line(tmp_path: Path) -> None:
    """HASHWALL_MAX_CONNECTIONS above what the open-file limit allows stops `serve` with one
    line naming the setting, the limit and the fix, before anything listens."""
    files = open_file_limit()
    if files is None:
        pytest.skip("this system has no open-file limit")
    result = _run(["serve", "--port", "0"], tmp_path, HASHWALL_MAX_CONNECTIONS=str(files))
    line = _one_line_error(result)
    assert line == (f"hashwall: HASHWALL_MAX_CONNECTIONS: expected at most {files - 256} (the "
                    f"open-file limit, {files}, less 256 for the store, files and workers), "
                    f"got {files}; raise the limit (ulimit -n, LimitNOFILE= in a systemd "
                    "unit) or lower the setting")
    assert result.returncode == 2


def test_the_default_connection_limit_is_what_the_system_allows() -> None:
    """Unset, the limit is the open-file limit (raised to the hard limit) less 256, at most
    50,000; a setting within it is kept."""
    files = open_file_limit()
    if files is None:
        pytest.skip("this system has no open-file limit")
    assert connection_limit(make_settings()) == max(10, min(files - 256, 50_000))
    assert connection_limit(make_settings(max_connections=100)) == 100
