"""Jetstream's `compress=true`: each frame one zstd frame made with a shared dictionary.

hashwall ships Jetstream's published v1 dictionary (`zstd_dictionary` beside this module,
MIT-licensed, see `zstd_dictionary.LICENSE`). `HASHWALL_BLUESKY_ZSTD_DICTIONARY` names
another file, for a Jetstream host that compresses with a dictionary of its own.
"""

from __future__ import annotations

import importlib.resources
import struct
from pathlib import Path

import zstandard

from server.sources.bluesky.exceptions import DictionaryError, MalformedFrame

# The 4 bytes every zstd dictionary starts with (RFC 8878, section 5); the next 4 are its ID.
DICTIONARY_MAGIC = b"\x37\xa4\x30\xec"
# The ID of the dictionary Jetstream v1 publishes and compresses with.
JETSTREAM_DICTIONARY_ID = 1612007021


def dictionary_id(data: bytes) -> int:
    """The ID in a zstd dictionary's header (0 when `data` is too short to hold one)."""
    return struct.unpack_from("<I", data, 4)[0] if len(data) >= 8 else 0


def shipped_dictionary() -> bytes:
    """Jetstream's v1 dictionary, as shipped with hashwall."""
    return (importlib.resources.files(__package__) / "zstd_dictionary").read_bytes()


def load_dictionary(path: Path) -> bytes:
    """The dictionary at `path`; a file that is not one raises DictionaryError."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DictionaryError(
            f"expected a readable zstd dictionary at {path}, got {exc.strerror}") from None
    if not data.startswith(DICTIONARY_MAGIC) or dictionary_id(data) == 0:
        raise DictionaryError(
            f"expected a zstd dictionary (starting with bytes 37 a4 30 ec and an ID) at {path}, "
            f"got a file starting with {data[:8].hex(' ') or 'nothing'}")
    return data


class FrameDecompressor:
    """Turns one compressed frame back into the JSON text Jetstream compressed."""

    def __init__(self, dictionary: bytes) -> None:
        self._context = zstandard.ZstdDecompressor(
            dict_data=zstandard.ZstdCompressionDict(dictionary))

    def decompress(self, frame: bytes) -> bytes:
        """The frame's content; a frame that is not zstd with this dictionary raises."""
        try:
            return self._context.decompressobj().decompress(frame)
        except zstandard.ZstdError as exc:
            raise MalformedFrame(
                f"expected a zstd frame made with the Jetstream dictionary, got {len(frame)} "
                f"bytes that do not decompress ({exc})") from None

