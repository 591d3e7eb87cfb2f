"""Jetstream protocols as sans-I/O adapters: the subscribe URL, and frames into events.

Only v1 exists as recorded frames. A v2 (`/xrpc/network.bsky.jetstream.subscribeEvents`,
per-instance sequence cursors) has been announced; it will be one more class with the
`JetstreamProtocol` shape, and the source will not change.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit, urlunsplit

import orjson

from server.sources.bluesky.compression import FrameDecompressor
from server.sources.bluesky.events import Account, Commit, Event, Identity, Operation, Other
from server.sources.bluesky.exceptions import MalformedFrame


class JetstreamProtocol(Protocol):
    """How to ask a Jetstream for events, and how to read what it sends."""

    name: str

    def subscribe_url(self, host: str, collections: Iterable[str], cursor: int | None,
                      compress: bool) -> str:
        """The websocket URL for `host` (`wss://…` or a bare host name)."""
        ...

    def parse(self, frame: str | bytes) -> Event:
        """One event from one websocket message; MalformedFrame when it is not one."""
        ...


class JetstreamV1:
    """Jetstream v1: `GET /subscribe`, one JSON object per message, `time_us` cursors."""

    name = "v1"
    PATH = "/subscribe"

    def __init__(self, decompressor: FrameDecompressor | None = None) -> None:
        self.decompressor = decompressor

    def subscribe_url(self, host: str, collections: Iterable[str], cursor: int | None,
                      compress: bool) -> str:
        parts = urlsplit(host if "://" in host else f"wss://{host}")
        query: list[tuple[str, str]] = [("wantedCollections", c) for c in collections]
        if cursor is not None:
            query.append(("cursor", str(cursor)))
        if compress:
            query.append(("compress", "true"))
        path = parts.path.rstrip("/")
        path = path if path.endswith(self.PATH) else path + self.PATH
        return urlunsplit((parts.scheme, parts.netloc, path, urlencode(query), ""))

    def parse(self, frame: str | bytes) -> Event:
        if isinstance(frame, bytes) and self.decompressor is not None:
            frame = self.decompressor.decompress(frame)
        try:
            data = orjson.loads(frame)
        except orjson.JSONDecodeError as exc:
            raise MalformedFrame(f"expected one JSON object per frame, got invalid JSON ({exc})"
                                 ) from None
        if not isinstance(data, dict):
            raise MalformedFrame(f"expected a JSON object, got {type(data).__name__}")
        return event_from_v1(data)


def event_from_v1(data: dict[str, Any]) -> Event:
    """The event a decoded v1 message describes."""
    did, time_us, kind = data.get("did"), data.get("time_us"), data.get("kind")
    if not isinstance(did, str) or not did.startswith("did:"):
        raise MalformedFrame(f"expected a 'did' like did:plc:…, got {did!r}")
    if not isinstance(time_us, int) or isinstance(time_us, bool):
        raise MalformedFrame(f"expected an integer 'time_us', got {time_us!r}")
    if kind == "commit":
        return _commit(did, time_us, data.get("commit"))
    if kind == "identity":
        identity = data.get("identity")
        handle = identity.get("handle") if isinstance(identity, dict) else None
        return Identity(did, time_us, handle if isinstance(handle, str) else None)
    if kind == "account":
        account = data.get("account")
        if not isinstance(account, dict):
            raise MalformedFrame(f"expected an 'account' object, got {account!r}")
        status = account.get("status")
        return Account(did, time_us, account.get("active") is True,
                       status if isinstance(status, str) else None)
    return Other(did, time_us, str(kind))


def _commit(did: str, time_us: int, commit: Any) -> Commit:
    if not isinstance(commit, dict):
        raise MalformedFrame(f"expected a 'commit' object, got {type(commit).__name__}")
    try:
        operation = Operation(str(commit.get("operation")))
    except ValueError:
        raise MalformedFrame(f"expected operation create, update or delete, got "
                             f"{commit.get('operation')!r}") from None
    collection, rkey = commit.get("collection"), commit.get("rkey")
    if not isinstance(collection, str) or not isinstance(rkey, str) or not rkey:
        raise MalformedFrame(f"expected 'collection' and 'rkey' strings, got {collection!r} "
                             f"and {rkey!r}")
    record = commit.get("record")
    if operation is not Operation.DELETE and not isinstance(record, dict):
        raise MalformedFrame(f"expected a 'record' object in a {operation} commit, got "
                             f"{type(record).__name__}")
    cid = commit.get("cid")
    return Commit(did, time_us, operation, collection, rkey, cid if isinstance(cid, str) else None,
                  record if isinstance(record, dict) else None)
