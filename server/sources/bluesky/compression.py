"""Jetstream's `compress=true`: each frame one zstd frame made with a shared dictionary.

Jetstream publishes its dictionary in its own repository; hashwall does not ship a copy.
The dictionary is read from `HASHWALL_BLUESKY_ZSTD_DICTIONARY`, or from the
`atproto_jetstream` package when it is installed and carries one (it does from 0.3.0, for
Python 3.14 and later). Without a dictionary the stream is read uncompressed.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import zstandard

from server.sources.bluesky.exceptions import DictionaryError, MalformedFrame

# The 4 bytes every zstd dictionary starts with (RFC 8878, section 5).
DICTIONARY_MAGIC = b"\x37\xa4\x30\xec"
PACKAGED = ("atproto_jetstream", "zstd_dictionary")


def packaged_dictionary() -> bytes | None:
    """Jetstream's dictionary from an installed package that ships it, or None."""
    try:
        resource = importlib.resources.files(PACKAGED[0]) / PACKAGED[1]
        return resource.read_bytes()
    except (ModuleNotFoundError, FileNotFoundError, NotADirectoryError):
        return None


def load_dictionary(path: Path | None) -> bytes | None:
    """The dictionary at `path`, else the packaged one, else None; a bad file raises."""
    if path is None:
        return packaged_dictionary()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DictionaryError(
            f"expected a readable zstd dictionary at {path}, got {exc.strerror}") from None
    if not data.startswith(DICTIONARY_MAGIC):
        raise DictionaryError(
            f"expected a zstd dictionary (starting with bytes 37 a4 30 ec) at {path}, "
            f"got a file starting with {data[:4].hex(' ') or 'nothing'}")
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


class FrameCompressor:
    """Compresses events the way Jetstream does (for fake servers and benchmarks)."""

    def __init__(self, dictionary: bytes, level: int = 3) -> None:
        self._context = zstandard.ZstdCompressor(
            level=level, dict_data=zstandard.ZstdCompressionDict(dictionary),
            write_content_size=False)

    def compress(self, data: bytes) -> bytes:
        """One zstd frame of `data`."""
        return self._context.compress(data)


def train_dictionary(samples: list[bytes], size: int = 16_384) -> bytes:
    """A dictionary trained on sample events (tests and benchmarks, never shipped)."""
    chunks: list[bytes | bytearray | memoryview] = list(samples)
    return zstandard.train_dictionary(size, chunks).as_bytes()
