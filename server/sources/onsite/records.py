"""What hashwall keeps about phones' posts besides the post itself, in the store (so every
web process sees it, on SQLite and on Redis): each submission's record (address, device,
photo), the photos' bytes, the secret that signs tokens, and whether submissions are open.

Kept with the store's source cursors (`get_cursor`/`set_cursor`, source `onsite`): a
string per key, a row of the `cursors` table on SQLite, a field of one hash on Redis.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
from dataclasses import asdict, dataclass
from typing import Any

from moderation import jsoncodec
from moderation.store import Store, StoreError

SOURCE = "onsite"
PHOTOS = "onsite-photo"


@dataclass(frozen=True, slots=True)
class Record:
    """A submission as moderators may know it; never sent to screens."""

    post_id: str
    address: str
    device: str
    received_at: float
    photo: str | None = None
    withdrawn: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready form kept in the store and shown to moderators."""
        return asdict(self)


async def load_record(store: Store, post_id: str) -> Record | None:
    """The record of a submission, or None."""
    raw = await store.get_cursor(SOURCE, f"post:{post_id}")
    return Record(**jsoncodec.loads(raw)) if raw else None


async def save_record(store: Store, record: Record) -> None:
    """Keep a submission's record, replacing the previous one."""
    await store.set_cursor(SOURCE, f"post:{record.post_id}", jsoncodec.dumps(record.to_dict()))


async def load_photo(store: Store, name: str) -> tuple[str, bytes] | None:
    """The post id and the JPEG bytes of a photo, or None."""
    raw = await store.get_cursor(PHOTOS, name)
    if not raw:
        return None
    data = jsoncodec.loads(raw)
    return str(data["post"]), base64.b64decode(data["jpeg"])


async def save_photo(store: Store, name: str, post_id: str, jpeg: bytes) -> None:
    """Keep a re-encoded photo (at most `photo.MAX_OUTPUT` bytes) under its name."""
    value = {"post": post_id, "jpeg": base64.b64encode(jpeg).decode()}
    await store.set_cursor(PHOTOS, name, jsoncodec.dumps(value))


async def drop_photo(store: Store, name: str) -> None:
    """Forget a photo's bytes (a withdrawn post's)."""
    await store.set_cursor(PHOTOS, name, "")


async def is_closed(store: Store) -> bool:
    """Whether the organiser closed submissions."""
    return await store.get_cursor(SOURCE, "closed") == "1"


async def set_closed(store: Store, closed: bool) -> bool:
    """Close or reopen submissions (persisted); True if it changed."""
    changed = await is_closed(store) != closed
    await store.set_cursor(SOURCE, "closed", "1" if closed else "0")
    return changed


async def shared_secret(store: Store, configured: str | None) -> bytes:
    """The key that signs tokens and names photos: from `HASHWALL_SECRET_KEY` when set,
    else made once and kept in the store, the same for every web process."""
    if configured:
        return hashlib.sha256(b"hashwall onsite\0" + configured.encode()).digest()
    kept = await store.get_cursor(SOURCE, "secret")
    if kept:
        return base64.b64decode(kept)
    # The first process to count 1 makes the secret; the others wait for it to appear.
    if await store.add_count("onsite:secret-maker", 1) == 1:
        await store.set_cursor(SOURCE, "secret", base64.b64encode(secrets.token_bytes(32)).decode())
    async with asyncio.timeout(10):
        while not (kept := await store.get_cursor(SOURCE, "secret")):
            await asyncio.sleep(0.05)
    if not kept:
        raise StoreError("the phones' token secret never appeared in the store")
    return base64.b64decode(kept)


def token_for(secret: bytes, post_id: str) -> str:
    """The token that lets the device that sent a post follow and withdraw it."""
    mac = hmac.new(secret, b"token\0" + post_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def photo_name(secret: bytes, post_id: str) -> str:
    """The name a post's photo is served under: nobody can work it out from the post id."""
    return hmac.new(secret, b"photo\0" + post_id.encode(), hashlib.sha256).hexdigest()[:32]


def token_ok(secret: bytes, post_id: str, token: str) -> bool:
    """Whether `token` is the token of `post_id`, compared in constant time."""
    return hmac.compare_digest(token.encode(), token_for(secret, post_id).encode())
