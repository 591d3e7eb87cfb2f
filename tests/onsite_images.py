"""An image corpus made at run time with Pillow, and a client that posts like a phone."""

from __future__ import annotations

import io
import secrets
import struct
import zlib
from typing import Any

import httpx
from PIL import Image

from server.sources.onsite.photo import HEIF

# EXIF tag numbers: the GPS IFD pointer, and the camera make.
GPS_IFD = 0x8825
MAKE = 0x010F


def picture(size: tuple[int, int] = (640, 480), mode: str = "RGB") -> Image.Image:
    """A picture with some detail (noise and gradients), so encoders have work to do."""
    noise = Image.effect_noise(size, 64)
    gradient = Image.linear_gradient("L").resize(size)
    image = Image.merge("RGB", (noise, gradient,
                                gradient.transpose(Image.Transpose.FLIP_LEFT_RIGHT)))
    return image.convert(mode)


def encoded(fmt: str, size: tuple[int, int] = (640, 480), **options: Any) -> bytes:
    """A valid image of a format (JPEG, PNG, WEBP, HEIF)."""
    out = io.BytesIO()
    picture(size, "RGBA" if fmt == "PNG" else "RGB").save(out, fmt, **options)
    return out.getvalue()


def jpeg_with_gps() -> bytes:
    """A JPEG carrying a camera make and a GPS position (Paris) in its EXIF."""
    exif = Image.Exif()
    exif[MAKE] = "PhoneMaker"
    gps = exif.get_ifd(GPS_IFD)
    gps.update({1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0)})
    return encoded("JPEG", exif=exif.tobytes())


def truncated_jpeg() -> bytes:
    """A JPEG cut in the middle of its image data."""
    data = encoded("JPEG", (1200, 900))
    return data[: len(data) // 2]


def bomb_png(side: int = 10_000) -> bytes:
    """A PNG of side×side black pixels (100 megapixels): some kilobytes on the wire."""
    raw_row = b"\x00" + b"\x00" * (side // 8)  # filter byte + one bit per pixel
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(raw_row) for _ in range(side)) + compressor.flush()
    return _png(side, side, bit_depth=1, colour=0, idat=data)


def huge_declared_png() -> bytes:
    """A tiny PNG whose header declares 100,000 × 100,000 pixels."""
    return _png(100_000, 100_000, bit_depth=8, colour=2, idat=zlib.compress(b"\x00" * 16))


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(
        ">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def _png(width: int, height: int, bit_depth: int, colour: int, idat: bytes) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat)
            + _chunk(b"IEND", b""))


def polyglot() -> bytes:
    """A JPEG that is also an HTML page: a script after the end-of-image marker."""
    return encoded("JPEG") + b"<html><script>alert('polyglot')</script></html>"


FORMATS = ["JPEG", "PNG", "WEBP", *(["HEIF"] if HEIF else [])]
TYPES = {"JPEG": ("image/jpeg", "photo.jpg"), "PNG": ("image/png", "photo.png"),
         "WEBP": ("image/webp", "photo.webp"), "HEIF": ("image/heic", "photo.heic")}


def new_key() -> str:
    """A fresh idempotency key, as a phone draws one."""
    return secrets.token_urlsafe(16)


async def send(client: httpx.AsyncClient, key: str | None, text: str = "Une question #uemedef14",
               name: str = "Ada", photo: tuple[str, bytes, str] | None = None,
               key_field: bool = False, **fields: str) -> httpx.Response:
    """POST /api/submissions as the phone form does (multipart)."""
    data = {"name": name, "text": text, **fields}
    headers = {}
    if key is not None and key_field:
        data["idempotency_key"] = key
    elif key is not None:
        headers["Idempotency-Key"] = key
    empty = ("", b"", "application/octet-stream")  # what a form sends with no file chosen
    files = {"photo": photo if photo is not None else empty}
    return await client.post("/api/submissions", data=data, files=files, headers=headers)
