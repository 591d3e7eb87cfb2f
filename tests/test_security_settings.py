"""Settings an attacker or a typo could abuse stop `hashwall serve` with a clear message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _serve(cwd: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HASHWALL_")}
    env.update(PYTHONPATH=str(ROOT), **extra)
    return subprocess.run([sys.executable, "-m", "server.cli", "serve", "--port", "1"],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("tags", ["#ok,#", "#ok,#a-b", "#2024", "#ok,#café!", "#" + "a" * 101])
def test_hashtags_that_are_not_hashtags_stop_the_start(tmp_path: Path, tags: str) -> None:
    """A HASHWALL_HASHTAGS entry no network would index stops `serve` with the reason."""
    result = _serve(tmp_path, HASHWALL_HASHTAGS=tags)
    assert result.returncode == 2, result.stderr
    assert "HASHWALL_HASHTAGS" in result.stderr and "a hashtag" in result.stderr
    assert "Traceback" not in result.stderr
