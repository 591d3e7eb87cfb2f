"""Find, or else fetch, the Chromium the browser tests drive, and print its path.

`make test` runs this before pytest and hands the path on as HASHWALL_TEST_CHROMIUM. In order:
1. HASHWALL_TEST_CHROMIUM when set (it must name an executable file);
2. a Chromium or Chrome on PATH, or in the usual install places;
3. Playwright's own Chromium: the one already downloaded, else `playwright install chromium`;
4. as root on Debian or Ubuntu, `apt-get install -y chromium`.
If none can be had it exits 1 with one sentence saying what to install.

HASHWALL_TEST_BROWSER_NO_INSTALL=1 skips every download and install (steps 3 and 4 only use
what is already there); HASHWALL_TEST_BROWSER_PLACES replaces the usual install places with
a list of paths separated by the system's path separator (empty: none).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

SETTING = "HASHWALL_TEST_CHROMIUM"
NO_INSTALL = "HASHWALL_TEST_BROWSER_NO_INSTALL"
PLACES_SETTING = "HASHWALL_TEST_BROWSER_PLACES"
NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
PLACES = (
    "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome",
    "/usr/bin/google-chrome-stable", "/snap/bin/chromium",
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
    "/Applications/Chromium.app/Contents/MacOS/Chromium",
)
FAILURE = ("No browser for the tests: install Chromium (Debian/Ubuntu: apt-get install chromium; "
           "macOS: brew install --cask chromium) or Google Chrome, or set HASHWALL_TEST_CHROMIUM "
           "to its executable.")


class NoBrowser(Exception):
    """No usable browser, with the sentence that says why."""


def _executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def from_setting() -> str | None:
    """The browser HASHWALL_TEST_CHROMIUM names; a path that cannot run is an error."""
    path = os.environ.get(SETTING, "")
    if not path:
        return None
    if not _executable(path):
        raise NoBrowser(f"{SETTING}: expected the path of a Chromium or Chrome executable, "
                        f"got {path!r}, which is not an executable file.")
    return path


def on_machine() -> str | None:
    """A Chromium or Chrome on PATH, else in the usual install places."""
    for name in NAMES:
        found = shutil.which(name)
        if found:
            return found
    places = os.environ.get(PLACES_SETTING)
    candidates = PLACES if places is None else [p for p in places.split(os.pathsep) if p]
    return next((place for place in candidates if _executable(place)), None)


def _playwright_chromium() -> str | None:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    try:
        with sync_playwright() as playwright:
            path = playwright.chromium.executable_path
    except Exception:  # a Playwright that cannot start offers no browser
        return None
    return path if _executable(path) else None


def from_playwright(install: bool) -> str | None:
    """Playwright's own Chromium, downloaded first when `install` and it is not there yet."""
    found = _playwright_chromium()
    if found or not install:
        return found
    print("browser tests: downloading Playwright's Chromium", file=sys.stderr)
    done = subprocess.run([sys.executable, "-m", "playwright", "install", "chromium"],
                          stdout=sys.stderr, check=False)
    return _playwright_chromium() if done.returncode == 0 else None


def from_apt(install: bool) -> str | None:
    """As root on Debian or Ubuntu, the distribution's chromium package."""
    if not install or not os.path.exists("/etc/debian_version") or os.geteuid() != 0:
        return None
    print("browser tests: apt-get install -y chromium", file=sys.stderr)
    done = subprocess.run(["apt-get", "install", "-y", "chromium"], stdout=sys.stderr,
                          check=False)
    return on_machine() if done.returncode == 0 else None


def provide() -> str:
    """The path of a browser for the tests, found or fetched in the documented order."""
    install = os.environ.get(NO_INSTALL, "") in ("", "0")
    found = (from_setting() or on_machine() or from_playwright(install)
             or from_apt(install))
    if found is None:
        raise NoBrowser(FAILURE)
    return found


def main() -> int:
    try:
        print(provide())
    except NoBrowser as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
