"""Photos sent from phones: each accepted format re-encoded without metadata, every kind of
bad file refused clearly, oversized uploads refused while they are read, and photos served
only once their post is approved (to moderators before)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from PIL import Image

from moderation.post import Status
from moderation.queue import Action
from tests.onsite_images import (
    FORMATS,
    GPS_IFD,
    TYPES,
    bomb_png,
    encoded,
    huge_declared_png,
    jpeg_with_gps,
    new_key,
    polyglot,
    send,
    truncated_jpeg,
)
from tests.utils import TIMEOUT, RunningServer, make_settings, moderator, run_server, until

LIMIT = 10_000_000


@pytest.fixture
async def phones(store_url: str) -> AsyncIterator[RunningServer]:
    """A real server taking posts and photos from phones."""
    settings = make_settings(store_url=store_url, onsite_posts=True, onsite_device_posts=100,
                             onsite_device_photos=100, onsite_max_photo_bytes=LIMIT)
    async with run_server(settings) as running:
        yield running


async def sent_photo(server: RunningServer, phone: httpx.AsyncClient,
                     photo: tuple[str, bytes, str]) -> tuple[str, str]:
    """Send a photo; the post id and the photo's URL."""
    answer = await send(phone, new_key(), photo=photo)
    assert answer.status_code == 202, answer.text
    post_id = answer.json()["id"]
    item = await server.wall.store.get(post_id)
    assert item is not None and item.post.media
    url = item.post.media[0].url
    assert url is not None
    return post_id, url


@pytest.mark.parametrize("fmt", FORMATS)
async def test_each_format_is_served_re_encoded_once_approved(phones: RunningServer,
                                                              fmt: str) -> None:
    """JPEG, PNG, WebP (and HEIC): a JPEG is served, to moderators first, to all once shown."""
    content_type, filename = TYPES[fmt]
    async with httpx.AsyncClient(base_url=phones.base, timeout=TIMEOUT) as phone, \
            moderator(phones) as console:
        post_id, url = await sent_photo(phones, phone,
                                        (filename, encoded(fmt), content_type))
        assert url.startswith("/photos/") and url.endswith(".jpg")
        assert post_id.split(":")[1] not in url
        assert (await phone.get(url)).status_code == 404
        seen = await console.get(url)
        assert seen.status_code == 200 and seen.headers["content-type"] == "image/jpeg"
        await phones.wall.store.decide(post_id, Action.APPROVE, "ana")
        served = await phone.get(url)
        assert served.status_code == 200
        image = Image.open(io.BytesIO(served.content))
        assert image.format == "JPEG" and image.size == (640, 480)
        await phones.wall.store.decide(post_id, Action.HIDE, "ana")
        assert (await phone.get(url)).status_code == 404


async def test_gps_and_every_other_metadata_are_stripped(phones: RunningServer) -> None:
    """A JPEG with a GPS position and a camera make is served without either (read back)."""
    original = jpeg_with_gps()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(GPS_IFD)  # the corpus has GPS
    async with httpx.AsyncClient(base_url=phones.base, timeout=TIMEOUT) as phone:
        post_id, url = await sent_photo(phones, phone, ("gps.jpg", original, "image/jpeg"))
        await phones.wall.store.decide(post_id, Action.APPROVE, "ana")
        served = (await phone.get(url)).content
    image = Image.open(io.BytesIO(served))
    assert not image.getexif() and not image.getexif().get_ifd(GPS_IFD)
    assert b"Exif" not in served and b"PhoneMaker" not in served
    assert not set(image.info) - {"jfif", "jfif_version", "jfif_unit", "jfif_density"}
    assert served != original


async def test_a_large_photo_is_bounded_and_a_polyglot_loses_its_payload(
        phones: RunningServer) -> None:
    """A 4000×3000 photo is served at most 2048 px wide; bytes after a JPEG's end are gone."""
    async with httpx.AsyncClient(base_url=phones.base, timeout=TIMEOUT) as phone:
        big_id, big_url = await sent_photo(
            phones, phone, ("big.jpg", encoded("JPEG", (4000, 3000)), "image/jpeg"))
        poly_id, poly_url = await sent_photo(phones, phone,
                                             ("poly.jpg", polyglot(), "image/jpeg"))
        for post_id in (big_id, poly_id):
            await phones.wall.store.decide(post_id, Action.APPROVE, "ana")
        big = (await phone.get(big_url)).content
        poly = (await phone.get(poly_url)).content
    # Decoded at half scale (2000×1500), within the bound of 2048 px.
    width, height = Image.open(io.BytesIO(big)).size
    assert 1024 <= width <= 2048 and width / height == 4 / 3
    assert b"<script" not in poly and b"<html" not in poly


BAD: list[tuple[str, Callable[[], bytes], str, str, str]] = [
    ("truncated", truncated_jpeg, "cut.jpg", "image/jpeg", "damaged"),
    ("decompression bomb", bomb_png, "bomb.png", "image/png", "too_many_pixels"),
    ("huge declared size", huge_declared_png, "huge.png", "image/png", "too_many_pixels"),
    ("extension lies", lambda: encoded("PNG"), "photo.jpg", "image/png", "type_mismatch"),
    ("content type lies", lambda: encoded("PNG"), "photo", "image/jpeg", "type_mismatch"),
    ("not an image", lambda: b"<html><script>alert(1)</script></html>", "x.jpg", "image/jpeg",
     "not_an_image"),
    ("another type", lambda: encoded("JPEG"), "doc.pdf", "application/pdf", "unsupported_type"),
    ("empty file", lambda: b"", "empty.jpg", "image/jpeg", "invalid"),
]


@pytest.mark.parametrize(("case", "make", "filename", "content_type", "code"), BAD,
                         ids=[case[0] for case in BAD])
async def test_bad_photos_are_refused_clearly(phones: RunningServer, case: str,
                                              make: Callable[[], bytes], filename: str,
                                              content_type: str, code: str) -> None:
    """Each bad file gets a 400 with its own code and a sentence for the sender; no post."""
    async with httpx.AsyncClient(base_url=phones.base, timeout=TIMEOUT) as phone:
        answer = await send(phone, new_key(), photo=(filename, make(), content_type))
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == code and answer.json()["error"]
    assert await phones.wall.store.list_items(Status.PENDING) == []


async def _upload(server: RunningServer, total: int, declare: bool) -> tuple[bytes, int]:
    """Send a multipart body of `total` bytes of photo over a raw socket, declaring its
    length or chunked; the answer's first bytes and how much was sent when it came."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    boundary = "----b"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; "
            f"filename=\"big.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n").encode()
    length = len(head) + total
    framing = f"Content-Length: {length}" if declare else "Transfer-Encoding: chunked"
    writer.write((f"POST /api/submissions HTTP/1.1\r\nHost: x\r\n{framing}\r\n"
                  f"Idempotency-Key: {new_key()}\r\n"
                  f"Content-Type: multipart/form-data; boundary={boundary}\r\n\r\n").encode())
    sent = 0
    chunk = b"\xff" * 1_000_000

    def frame(data: bytes) -> bytes:
        return data if declare else f"{len(data):x}\r\n".encode() + data + b"\r\n"

    async def write() -> None:
        nonlocal sent
        writer.write(frame(head))
        while sent < total:
            writer.write(frame(chunk))
            await writer.drain()
            sent += len(chunk)

    writing = asyncio.create_task(write())
    reading = asyncio.create_task(reader.read(200))
    async with asyncio.timeout(TIMEOUT * 3):
        await asyncio.wait({writing, reading}, return_when=asyncio.FIRST_COMPLETED)
        answer = await reading
    writing.cancel()
    await asyncio.gather(writing, return_exceptions=True)
    writer.close()
    return answer, sent


@pytest.mark.parametrize("declare", [True, False], ids=["content-length", "chunked"])
async def test_a_50_mb_upload_is_refused_without_being_read_whole(
        phones: RunningServer, declare: bool) -> None:
    """413 comes while the 50 MB are still being sent: the server stopped reading early."""
    answer, sent = await _upload(phones, 50_000_000, declare)
    assert answer.startswith(b"HTTP/1.1 413"), answer
    assert sent < 50_000_000
    if declare:
        assert sent < LIMIT  # refused from the declared length, before the body


async def test_slow_uploads_never_hold_up_a_text(phones: RunningServer) -> None:
    """With every upload slot taken by stalled photo uploads, a text is still queued."""
    from server.sources.onsite.source import UPLOADS, OnsiteSource

    stalled = []
    for _ in range(UPLOADS + 2):
        _reader, writer = await asyncio.open_connection("127.0.0.1", phones.port)
        writer.write(("POST /api/submissions HTTP/1.1\r\nHost: x\r\n"
                      "Transfer-Encoding: chunked\r\nIdempotency-Key: " + new_key() + "\r\n"
                      "Content-Type: multipart/form-data; boundary=b\r\n\r\n"
                      "5\r\n--b\r\n\r\n").encode())
        await writer.drain()
        stalled.append(writer)
    try:
        source = next(s for s in phones.wall.sources if isinstance(s, OnsiteSource))
        await until(source.uploads.locked)  # every slot is held by a stalled upload
        async with httpx.AsyncClient(base_url=phones.base, timeout=TIMEOUT) as phone:
            answer = await send(phone, new_key(), text="Toujours là")
        assert answer.status_code == 202, answer.text
    finally:
        for writer in stalled:
            writer.close()


async def test_a_photo_larger_than_the_general_body_limit_is_taken(store_url: str) -> None:
    """A 3 MB camera photo passes, though other endpoints refuse bodies over 1 MiB."""
    settings = make_settings(store_url=store_url, onsite_posts=True, onsite_max_photo_bytes=LIMIT,
                             max_body_bytes=1_048_576)
    noise = Image.frombytes("RGB", (1000, 1000), bytes(range(256)) * 11719)
    buffer = io.BytesIO()
    noise.save(buffer, "PNG", compress_level=0)
    photo = buffer.getvalue()
    assert len(photo) > 2_000_000
    async with run_server(settings) as server, httpx.AsyncClient(
            base_url=server.base, timeout=TIMEOUT) as phone:
        answer = await send(phone, new_key(), photo=("stage.png", photo, "image/png"))
        assert answer.status_code == 202, answer.text
        other = await phone.post("/api/login", content=b"x" * len(photo))
        assert other.status_code == 413
