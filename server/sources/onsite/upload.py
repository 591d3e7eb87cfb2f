"""A bounded multipart/form-data reader: sizes are checked while the body arrives, so an
oversized upload is refused after at most its limit was read, never held whole."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from server.sources.onsite.submission import SubmissionRefused

# Every text field together, at most: a name, a text, a key.
FIELDS_BYTES = 64_000
# Parts at most: the form has four fields.
MAX_PARTS = 8
# A body still arriving after this long is refused: a photo of 10 MB at 1 Mbit/s takes 80 s.
READ_SECONDS = 120.0


@dataclass
class Part:
    """One field of the form: its name, its file name and type for a file, its bytes."""

    name: str = ""
    filename: str | None = None
    content_type: str = ""
    data: bytearray = field(default_factory=bytearray)

    def text(self) -> str:
        """The field as text; `SubmissionRefused` unless it is valid UTF-8."""
        try:
            return self.data.decode("utf-8")
        except UnicodeDecodeError:
            raise SubmissionRefused(f"{self.name}: expected UTF-8 text, got bytes that are "
                                    "not") from None


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:g} MB"


def too_large(most: int) -> SubmissionRefused:
    """The refusal of an upload over the photo limit."""
    return SubmissionRefused(f"expected a photo of at most {_megabytes(most)}, got a larger "
                             "file", status=413, code="too_large")


class _Collector:
    """Callbacks of python-multipart that gather parts, counting bytes as they come."""

    def __init__(self, max_file: int) -> None:
        self.max_file = max_file
        self.parts: list[Part] = []
        self.part = Part()
        self.header_field = bytearray()
        self.header_value = bytearray()
        self.headers: dict[bytes, bytes] = {}
        self.field_bytes = 0
        self.error: SubmissionRefused | None = None

    def on_part_begin(self) -> None:
        self.part = Part()
        self.headers = {}
        if len(self.parts) >= MAX_PARTS:
            self.error = SubmissionRefused(f"expected at most {MAX_PARTS} form fields")

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        self.headers[bytes(self.header_field).lower()] = bytes(self.header_value)
        self.header_field.clear()
        self.header_value.clear()

    def on_headers_finished(self) -> None:
        _disposition, options = parse_options_header(self.headers.get(b"content-disposition", b""))
        self.part.name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        self.part.filename = filename.decode("utf-8", "replace") if filename is not None else None
        self.part.content_type = self.headers.get(b"content-type", b"").decode("latin-1")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.error is not None:
            return
        self.part.data += data[start:end]
        if self.part.filename is not None:
            if len(self.part.data) > self.max_file:
                self.error = too_large(self.max_file)
        else:
            self.field_bytes += end - start
            if self.field_bytes > FIELDS_BYTES:
                self.error = SubmissionRefused(
                    f"expected form fields of at most {FIELDS_BYTES} bytes in all", status=413,
                    code="too_large")

    def on_part_end(self) -> None:
        if self.error is None:
            self.parts.append(self.part)


def may_be_large(request: Request) -> bool:
    """Whether a body may carry a photo: more than the text fields, or of unknown length."""
    declared = request.headers.get("content-length")
    return declared is None or not declared.isdigit() or int(declared) > FIELDS_BYTES + 16_384


async def read_form(request: Request, max_file: int) -> dict[str, Part]:
    """The parts of a multipart body by name (the first of each name), read within limits:
    `SubmissionRefused` (413) as soon as the body outgrows them."""
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise SubmissionRefused("expected a multipart/form-data body, got "
                                f"{request.headers.get('content-type', 'none')!r}", status=415,
                                code="bad_form")
    most = max_file + FIELDS_BYTES + 16_384  # plus the parts' headers and boundaries
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > most:
        raise too_large(max_file)  # refused before a byte of the body is read
    collector = _Collector(max_file)
    callbacks = {name: getattr(collector, name) for name in (
        "on_part_begin", "on_part_data", "on_part_end", "on_header_field", "on_header_value",
        "on_header_end", "on_headers_finished")}
    parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
    received = 0
    try:
        async with asyncio.timeout(READ_SECONDS):
            async for chunk in request.stream():
                received += len(chunk)
                if received > most:
                    raise too_large(max_file)
                try:
                    parser.write(chunk)
                except Exception as exc:  # python-multipart raises its own errors
                    raise SubmissionRefused(f"expected a well-formed multipart body: {exc}",
                                            code="bad_form") from None
                if collector.error is not None:
                    raise collector.error
    except TimeoutError:
        raise SubmissionRefused(f"expected the upload within {READ_SECONDS:g} s; it took "
                                "longer, send it again on a better connection", status=408,
                                code="too_slow") from None
    try:
        parser.finalize()
    except Exception as exc:
        raise SubmissionRefused(f"expected a well-formed multipart body: {exc}",
                                code="bad_form") from None
    found: dict[str, Part] = {}
    for part in collector.parts:
        found.setdefault(part.name, part)
    return found
