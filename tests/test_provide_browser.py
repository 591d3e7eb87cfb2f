"""tests/provide_browser.py, run as `make test` runs it: a real subprocess in a chosen world."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent / "provide_browser.py"


def _provide(**env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("HASHWALL_TEST_", "PLAYWRIGHT_"))}
    return subprocess.run([sys.executable, str(SCRIPT)], env={**base, **env},
                          capture_output=True, text=True, timeout=120)


def _machine_chromium() -> str:
    found = next(filter(None, map(shutil.which, ("chromium", "chromium-browser",
                                                 "google-chrome", "google-chrome-stable",
                                                 "chrome"))), None)
    if found is None:
        pytest.skip("no Chromium or Chrome on this machine's PATH")
    return found


def test_setting_that_is_not_executable_is_a_clear_error(tmp_path: Path) -> None:
    """HASHWALL_TEST_CHROMIUM naming a file that cannot run stops at once with one line naming
    the setting and the path."""
    fake = tmp_path / "chromium"
    fake.write_text("not a browser")
    fake.chmod(0o644)
    result = _provide(HASHWALL_TEST_CHROMIUM=str(fake))
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.splitlines() == [
        f"HASHWALL_TEST_CHROMIUM: expected the path of a Chromium or Chrome executable, got "
        f"'{fake}', which is not an executable file."]


def test_no_browser_anywhere_is_one_sentence(tmp_path: Path) -> None:
    """With nothing on PATH, no usual places, a HOME without Playwright's download and
    installing switched off, the script fails at once with one sentence saying what to
    install."""
    (tmp_path / "bin").mkdir()
    (tmp_path / "home").mkdir()
    result = _provide(PATH=str(tmp_path / "bin"), HOME=str(tmp_path / "home"),
                      HASHWALL_TEST_BROWSER_NO_INSTALL="1", HASHWALL_TEST_BROWSER_PLACES="")
    assert result.returncode == 1 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith("No browser for the tests: install Chromium")
    assert "HASHWALL_TEST_CHROMIUM" in lines[0] and lines[0].count(".") <= 3


def test_machine_chromium_is_found_on_path() -> None:
    """With no setting, the Chromium on this machine's PATH is the one printed."""
    chromium = _machine_chromium()
    result = _provide(HASHWALL_TEST_BROWSER_NO_INSTALL="1")
    assert result.returncode == 0, result.stderr
    assert result.stdout == chromium + "\n"


def test_machine_chromium_is_found_in_a_usual_place(tmp_path: Path) -> None:
    """With an empty PATH, a browser in one of the usual install places is still found."""
    chromium = _machine_chromium()
    result = _provide(PATH=str(tmp_path), HASHWALL_TEST_BROWSER_NO_INSTALL="1",
                      HASHWALL_TEST_BROWSER_PLACES=os.pathsep.join(["/nowhere/chrome",
                                                                    chromium]))
    assert result.returncode == 0, result.stderr
    assert result.stdout == chromium + "\n"


def test_setting_wins_over_the_machine(tmp_path: Path) -> None:
    """An executable named by HASHWALL_TEST_CHROMIUM is used as is."""
    own = tmp_path / "my-chrome"
    own.write_text("#!/bin/sh\n")
    own.chmod(0o755)
    result = _provide(HASHWALL_TEST_CHROMIUM=str(own))
    assert result.returncode == 0 and result.stdout == f"{own}\n"
