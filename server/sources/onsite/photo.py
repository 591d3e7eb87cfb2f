"""A phone's photo, decoded and re-encoded: bounded size, no metadata, never the original.

Pure: bytes in, bytes out (CPU-bound; callers run it in a thread). Pillow decodes JPEG,
PNG and WebP; pillow-heif adds HEIC/HEIF, the format iPhones take photos in.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import PurePosixPath

from PIL import Image, ImageOps

try:
    import pillow_heif
except ImportError:  # pragma: no cover - pillow-heif is a dependency; HEIC is refused without it
    HEIF = False
else:
    pillow_heif.register_heif_opener()
    HEIF = True

LONGEST_SIDE = 2048
# Decoded pixels at most (a 48-megapixel phone camera passes): checked from the header,
# before any pixel is decoded, so a small file cannot expand into gigabytes of memory.
MAX_PIXELS = 50_000_000
# The re-encoded JPEG at most; a busier picture is saved again at a lower quality.
MAX_OUTPUT = 1_500_000
QUALITY = (85, 70, 55)

# Pillow's format names, and the media types and file name extensions that announce them.
FORMATS = ("JPEG", "PNG", "WEBP", *(("HEIF",) if HEIF else ()))
MEDIA_TYPES = {
    "image/jpeg": "JPEG", "image/jpg": "JPEG", "image/pjpeg": "JPEG",
    "image/png": "PNG", "image/webp": "WEBP",
    "image/heic": "HEIF", "image/heif": "HEIF",
    "image/heic-sequence": "HEIF", "image/heif-sequence": "HEIF",
}
EXTENSIONS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP",
              ".heic": "HEIF", ".heif": "HEIF"}
# What browsers send when they do not know the type: the content decides alone.
UNSPECIFIED = frozenset({"", "application/octet-stream"})
NAMES = {"JPEG": "JPEG", "PNG": "PNG", "WEBP": "WebP", "HEIF": "HEIC"}


class PhotoRefused(Exception):
    """A photo hashwall will not take; `str()` says why, for the sender."""

    def __init__(self, message: str, code: str = "bad_photo") -> None:
        super().__init__(message, code)  # both in args: it crosses process boundaries
        self.code = code

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True, slots=True)
class Photo:
    """A re-encoded photo: baseline JPEG bytes with no metadata, and its size."""

    data: bytes
    width: int
    height: int


def _accepted() -> str:
    return ", ".join(NAMES[f] for f in FORMATS)


def claimed_format(content_type: str, filename: str) -> str | None:
    """The format the upload says it is, from its media type and file name, or None."""
    media = content_type.split(";", 1)[0].strip().lower()
    by_type: str | None = None
    if media not in UNSPECIFIED:
        by_type = MEDIA_TYPES.get(media)
        if by_type is None:
            raise PhotoRefused(f"expected a photo ({_accepted()}), got a file of type {media!r}",
                               "unsupported_type")
    suffix = PurePosixPath(filename.replace("\\", "/")).suffix.lower()
    by_name = EXTENSIONS.get(suffix)
    if by_type and by_name and by_type != by_name:
        raise PhotoRefused(f"the file is named {suffix} but sent as {media}: expected both "
                           "to name the same format", "type_mismatch")
    return by_type or by_name


def _flatten(image: Image.Image) -> Image.Image:
    """RGB pixels; transparency becomes white, as a card's background would show it."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        ground = Image.new("RGB", rgba.size, (255, 255, 255))
        ground.paste(rgba, mask=rgba.getchannel("A"))
        return ground
    return image.convert("RGB")


def reencode(data: bytes, content_type: str = "", filename: str = "") -> Photo:
    """The photo re-encoded as a JPEG of at most LONGEST_SIDE px, without any metadata;
    `PhotoRefused` for anything that is not a sound image of an accepted format."""
    claimed = claimed_format(content_type, filename)
    if claimed == "HEIF" and not HEIF:
        raise PhotoRefused(f"HEIC photos are not accepted here; expected {_accepted()}",
                           "unsupported_type")
    with warnings.catch_warnings():
        # Pillow warns above its own pixel limit and raises above twice it; ours is lower.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=list(FORMATS))
        except Image.DecompressionBombError:
            raise PhotoRefused(f"expected a photo of at most {MAX_PIXELS // 1_000_000} "
                               "megapixels, got a far larger one", "too_many_pixels") from None
        except (OSError, SyntaxError, ValueError):
            raise PhotoRefused(f"expected a photo ({_accepted()}); the file is not one",
                               "not_an_image") from None
        with image:
            found = str(image.format)
            if claimed is not None and found != claimed:
                raise PhotoRefused(f"the file says it is {NAMES[claimed]} but its content is "
                                   f"{NAMES.get(found, found)}", "type_mismatch")
            width, height = image.size
            if width < 1 or height < 1 or width * height > MAX_PIXELS:
                raise PhotoRefused(
                    f"expected a photo of at most {MAX_PIXELS // 1_000_000} megapixels, got "
                    f"{width}×{height}", "too_many_pixels")
            try:
                if found == "JPEG":
                    # Decoded at 1/2, 1/4 or 1/8 scale when that still gives at least half
                    # the longest side: most of the decoding cost of a large photo saved.
                    image.draft("RGB", (LONGEST_SIDE // 2, LONGEST_SIDE // 2))
                image.load()
                upright = ImageOps.exif_transpose(image)  # turned as the camera meant
                pixels = _flatten(upright)
            except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
                raise PhotoRefused("the photo is damaged or incomplete; send it again",
                                   "damaged") from None
    pixels.thumbnail((LONGEST_SIDE, LONGEST_SIDE), Image.Resampling.LANCZOS)
    # A new image from raw pixels carries no EXIF, XMP, ICC or comment of the original.
    clean = Image.frombytes("RGB", pixels.size, pixels.tobytes())
    for quality in QUALITY:
        out = io.BytesIO()
        clean.save(out, "JPEG", quality=quality)
        if out.tell() <= MAX_OUTPUT:
            break
    return Photo(out.getvalue(), clean.width, clean.height)
