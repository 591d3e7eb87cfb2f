"""Moderator accounts: names and argon2 password hashes, one `name:hash` line each.

Make a line with `python -m moderation.accounts NAME` (it asks for the password).
"""

from __future__ import annotations

import functools
import getpass
import sys
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()
MAX_NAME = 64


@functools.cache
def _dummy() -> str:
    """Checked when the name is unknown, so that a wrong name takes as long as a wrong
    password. Made when accounts are read (not on import: a wall with one shared password
    never needs it, and every command starts 0.1 s sooner)."""
    return _HASHER.hash("not a password anyone has")


class AccountsError(Exception):
    """The accounts file cannot be read or holds a line that is not `name:argon2-hash`."""


def check_name(name: str) -> str:
    """A moderator name as typed, trimmed; `ValueError` when empty, too long or with a colon."""
    name = name.strip()
    if not name or len(name) > MAX_NAME or ":" in name:
        raise ValueError(f"expected a name of 1 to {MAX_NAME} characters without ':', got {name!r}")
    return name


def parse_accounts(text: str, where: str = "accounts") -> dict[str, str]:
    """The accounts of a file's text: blank lines and `#` comments are skipped."""
    accounts: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, encoded = line.partition(":")
        try:
            name = check_name(name)
        except ValueError as exc:
            raise AccountsError(f"{where} line {number}: {exc}") from None
        if not sep or not encoded.startswith("$argon2"):
            raise AccountsError(f"{where} line {number}: expected name:$argon2id$…, "
                                f"got a line without an argon2 hash for {name!r}")
        if name.casefold() in (n.casefold() for n in accounts):
            raise AccountsError(f"{where} line {number}: {name!r} appears twice")
        accounts[name] = encoded
    if not accounts:
        raise AccountsError(f"{where}: expected at least one name:hash line, got none")
    _dummy()  # made now, so that the first sign-in with an unknown name is not slower
    return accounts


def load_accounts(path: Path) -> dict[str, str]:
    """The accounts of a file, or `AccountsError` naming the file and the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AccountsError(f"cannot read the accounts file {path}: {exc}") from None
    return parse_accounts(text, str(path))


def verify(accounts: dict[str, str], name: str, password: str) -> str | None:
    """The account's own spelling of `name` when the password matches its hash, else None."""
    found = next((n for n in accounts if n.casefold() == name.strip().casefold()), None)
    encoded = accounts[found] if found is not None else _dummy()
    try:
        _HASHER.verify(encoded, password)
    except (VerificationError, InvalidHashError):
        return None
    return found


def hash_password(password: str) -> str:
    """The argon2id hash of a password, in the encoded form the accounts file holds."""
    return _HASHER.hash(password)


def main(argv: list[str]) -> int:
    """Print an accounts line for NAME, asking for the password twice."""
    if len(argv) != 1:
        print("usage: python -m moderation.accounts NAME", file=sys.stderr)
        return 2
    name = check_name(argv[0])
    password = getpass.getpass(f"password for {name}: ")
    if not password or password != getpass.getpass("again: "):
        print("the two passwords differ or are empty", file=sys.stderr)
        return 1
    print(f"{name}:{hash_password(password)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
