"""The repository reads nothing outside itself: no sibling folder, no machine's home or workspace.

What counts as "outside": a relative path climbing out to a sibling `shared` folder, and an
absolute path into a user's or a build machine's own folders (home directories and
workspace roots). System paths a program may legitimately probe, such as `/usr/bin/...`
in a browser finder or `/dev/null`, are allowed.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECKED = ("server", "moderation", "wall_ui", "tests", "bench", ".ci")
SUFFIXES = {".py", ".js", ".html", ".css", ".toml", ".cfg", ".sh", ".txt", ".md", ""}
# Built from pieces so that this file does not match its own patterns.
# The data folder that sits beside the repository on the maintainers' machines only.
NEIGHBOUR = "sha" + "red"
SIBLING = re.compile(r"\.\." + r"[/\\]" + NEIGHBOUR + r"\b")
_ROOTS = ["wo" + "rk", "ho" + "me", "Us" + "ers", "ro" + "ot"]
OUTSIDE = re.compile("(?<![\\w.])/(?:" + "|".join(_ROOTS) + ")/")


def _files() -> list[Path]:
    """Every text file the check covers: the code folders, the Makefile and the CI scripts."""
    files = [ROOT / "Makefile"]
    for folder in CHECKED:
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and path.suffix in SUFFIXES and "__pycache__" not in path.parts:
                files.append(path)
    return files


def test_no_file_names_a_path_outside_the_repository() -> None:
    """No code, test, benchmark, Makefile or CI line names a sibling folder or a home path."""
    found = []
    for path in _files():
        if path.suffix == ".jsonl" or "fixtures" in path.parts:
            continue  # recorded payloads are data, not paths the code reads
        text = path.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), 1):
            if SIBLING.search(line) or OUTSIDE.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert found == [], "paths outside the repository:\n" + "\n".join(found)


def test_the_check_catches_what_it_is_meant_to() -> None:
    """The patterns flag a sibling folder and a home path, and leave system paths alone."""
    assert SIBLING.search('Path("..") / "x" / "../' + 'shared/fixtures"')
    assert OUTSIDE.search('open("/' + 'home/ada/data.json")')
    assert not OUTSIDE.search('"/usr/bin/chromium"')
    assert not OUTSIDE.search("https://example.org/home/page")
