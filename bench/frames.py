"""The few pieces of RFC 6455 the raw baseline and the load generator need, and nothing else."""

from __future__ import annotations

import base64
import hashlib
import os
import struct

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, CLOSE, PING, PONG = 0x1, 0x8, 0x9, 0xA


def accept_key(key: str | bytes) -> str:
    """The Sec-WebSocket-Accept answer to a Sec-WebSocket-Key."""
    raw = key.encode() if isinstance(key, str) else key
    return base64.b64encode(hashlib.sha1(raw.strip() + GUID).digest()).decode()


def upgrade_request(host: str, port: int, path: str) -> tuple[bytes, str]:
    """A client handshake request and the accept key the server must answer with."""
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    return request.encode(), accept_key(key)


def upgrade_response(key: str | bytes) -> bytes:
    """The server's 101 answer to a handshake with this key."""
    return (
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept_key(key)}\r\n\r\n"
    ).encode()


def frame(payload: bytes, opcode: int = TEXT, masked: bool = False) -> bytes:
    """One final frame; clients must mask, servers must not."""
    length = len(payload)
    mask_bit = 0x80 if masked else 0
    if length < 126:
        head = struct.pack("!BB", 0x80 | opcode, mask_bit | length)
    elif length < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, mask_bit | 126, length)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, mask_bit | 127, length)
    if not masked:
        return head + payload
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + body


def split_frames(data: bytes) -> tuple[list[tuple[int, bool, bytes]], bytes]:
    """The complete frames at the start of `data` as (opcode, fin, payload), and the rest."""
    frames = []
    pos, size = 0, len(data)
    while size - pos >= 2:
        first, second = data[pos], data[pos + 1]
        length, head = second & 0x7F, 2
        if length == 126:
            if size - pos < 4:
                break
            length, head = int.from_bytes(data[pos + 2:pos + 4], "big"), 4
        elif length == 127:
            if size - pos < 10:
                break
            length, head = int.from_bytes(data[pos + 2:pos + 10], "big"), 10
        if second & 0x80:
            head += 4
        if size - pos < head + length:
            break
        payload = data[pos + head:pos + head + length]
        if second & 0x80:
            mask = data[pos + head - 4:pos + head]
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        frames.append((first & 0x0F, bool(first & 0x80), payload))
        pos += head + length
    return frames, data[pos:]
