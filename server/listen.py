"""The listening socket: bound before anything says the server is up, and this machine's LAN
address for the phones' QR code."""

from __future__ import annotations

import errno
import ipaddress
import socket
from collections.abc import Iterable

# TEST-NET-1 (RFC 5737): a UDP connect() to it picks the outgoing interface and sends nothing.
_ROUTE_PROBE = ("192.0.2.1", 9)
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
WILDCARD_HOSTS = ("0.0.0.0", "::", "")


class ListenError(Exception):
    """The server cannot listen where it was asked to."""


def _reason(exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return "address already in use"
    if exc.errno == errno.EACCES:
        return "permission denied (ports below 1024 need privileges)"
    if exc.errno == errno.EADDRNOTAVAIL:
        return "this machine has no such address"
    if isinstance(exc, socket.gaierror):
        return f"unknown host ({exc.strerror})"
    return (exc.strerror or str(exc)).lower()


def bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port and listening; ListenError says why not."""
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if not 0 <= port <= 65535:
        raise ListenError(f"cannot listen on {where}: the port must be 0–65535")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen()
    except OSError as exc:
        sock.close()
        raise ListenError(f"cannot listen on {where}: {_reason(exc)}") from None
    return sock


def pick_lan_address(candidates: Iterable[str]) -> str | None:
    """The first IPv4 address other machines can reach (private before public), or None."""
    usable = []
    for text in candidates:
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            continue
        if (address.version == 4 and not address.is_loopback and not address.is_link_local
                and not address.is_unspecified and not address.is_multicast):
            usable.append(address)
    usable.sort(key=lambda a: not a.is_private)
    return str(usable[0]) if usable else None


def lan_address() -> str | None:
    """This machine's LAN address, found without sending a packet: the host name's addresses,
    else the source address the kernel would route a documentation address from."""
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
        found = pick_lan_address(str(info[4][0]) for info in infos)
    except OSError:
        found = None
    if found:
        return found
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(_ROUTE_PROBE)  # UDP: chooses a route, sends nothing
        return pick_lan_address([str(probe.getsockname()[0])])
    except OSError:
        return None
    finally:
        probe.close()
