"""Attacks on the HTTP side of a real server: headers, static files, bodies, bad input."""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from server.settings import SettingsError
from server.throttle import address_key
from tests.test_auth import frozen_clock
from tests.utils import (
    PASSWORD,
    TIMEOUT,
    make_settings,
    moderator,
    recv,
    run_server,
    session_cookie,
    ws_client,
)


@pytest.mark.parametrize("value", [
    "https://cdn.example.org/l.svg; script-src 'unsafe-inline'",
    "https://cdn.example.org/l.svg script-src:",
    "https://cdn.example.org/l.svg\tdata:",
    "https://cdn.example.org,https://evil.example/l.svg",
    "https://cdn.example.org:notaport/l.svg",
    "https://user@cdn.example.org/l.svg",
])
def test_logo_url_that_would_inject_csp_directives_is_refused(value: str) -> None:
    """A logo address carrying `;`, spaces or a second source stops start-up, by name."""
    with pytest.raises(SettingsError) as caught:
        make_settings(logo_url=value)
    assert "HASHWALL_LOGO_URL" in str(caught.value)


async def test_csp_names_only_the_logo_origin(store_url: str) -> None:
    """The CSP a page carries names the logo's origin and nothing else of the setting."""
    settings = make_settings(store_url=store_url,
                             logo_url="https://CDN.example.org:8443/a/logo.svg?v=1#x")
    async with run_server(settings) as running, httpx.AsyncClient(timeout=TIMEOUT) as http:
        response = await http.get(f"{running.base}/wall")
    csp = response.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["img-src"].split() == [
        "'self'", "data:", "https://pbs.twimg.com", "https://abs.twimg.com",
        "https://video.twimg.com", "https://cdn.example.org:8443"]
    assert len(directives) == csp.count(";") + 1


async def test_static_serves_assets_only(store_url: str) -> None:
    """/static/ gives the pages' scripts and styles but never the package's Python files."""
    async with run_server(make_settings(store_url=store_url)) as running, \
            httpx.AsyncClient(base_url=running.base, timeout=TIMEOUT) as http:
        assert (await http.get("/static/js/wall.js")).status_code == 200
        assert (await http.get("/static/css/wall.css")).status_code == 200
        assert (await http.get("/static/img/hashwall.svg")).status_code == 200
        for path in ("/static/__init__.py", "/static/%5F%5Finit%5F%5F.py", "/static/__init__.PY",
                     "/static/wall.html", "/static/__pycache__/"):
            response = await http.get(path)
            assert response.status_code == 404, (path, response.status_code)
            assert "STATIC_DIR" not in response.text


def _rss_kib(pid: int) -> int:
    """The resident memory of a process, in KiB (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def _raw(port: int, request: bytes, body_chunks: int = 0, chunk: bytes = b"") -> bytes:
    """Send a raw HTTP request (and chunks of a body), and read the answer."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), TIMEOUT)
    try:
        writer.write(request)
        with contextlib.suppress(ConnectionError):
            for _ in range(body_chunks):
                writer.write(chunk)
                await asyncio.wait_for(writer.drain(), TIMEOUT)
        return await asyncio.wait_for(reader.read(65536), TIMEOUT)
    finally:
        writer.close()


async def test_large_bodies_are_refused_before_they_are_read(store_url: str) -> None:
    """A 200 MB PUT /api/rules (announced, or chunked) gets 413 or 401 without the server
    holding it: its memory grows by less than 20 MB."""
    async with run_server(make_settings(store_url=store_url)) as running:
        before = _rss_kib(os.getpid())
        head = (b"PUT /api/rules HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n"
                b"content-length: 200000000\r\n\r\n")
        answer = await _raw(running.port, head)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        # Chunked, so no length is announced: refused while reading.
        chunked = (b"POST /api/login HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n"
                   b"transfer-encoding: chunked\r\n\r\n")
        piece = b"100000\r\n" + b"[" * 0x100000 + b"\r\n"
        answer = await _raw(running.port, chunked, body_chunks=200, chunk=piece)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        grown_mb = (_rss_kib(os.getpid()) - before) / 1024
        print(f"\nserver memory growth during 200 MB uploads: {grown_mb:.1f} MB")
        assert grown_mb < 20, grown_mb
        async with moderator(running) as http:
            rules = (await http.get("/api/rules")).json()
            assert (await http.put("/api/rules", json=rules["rules"])).status_code == 200


async def test_rules_from_a_stranger_are_refused_before_parsing(store_url: str) -> None:
    """PUT /api/rules without a session is 401 even when its body is not JSON at all."""
    async with run_server(make_settings(store_url=store_url)) as running, \
            httpx.AsyncClient(base_url=running.base, timeout=TIMEOUT) as http:
        response = await http.put("/api/rules", content=b"\xff" * 1000)
        assert response.status_code == 401


async def test_bad_input_is_a_400_never_a_500(store_url: str) -> None:
    """Nested JSON, a superscript limit, a huge `since` and a look-alike Origin get clear
    refusals, and the server keeps serving."""
    async with run_server(make_settings(store_url=store_url)) as running:
        async with moderator(running) as http:
            deep = b"[" * 200_000 + b"]" * 200_000
            for path in ("/api/announce", "/api/posts/x:1/approve"):
                response = await http.post(path, content=deep,
                                           headers={"content-type": "application/json"})
                assert response.status_code == 400, (path, response.text)
            response = await http.post("/api/login", content=b'{"a":' * 100_000,
                                       headers={"content-type": "application/json"})
            assert response.status_code in (400, 429), response.text
            for query in ("limit=%C2%B2", "limit=%D9%A1", "status=approved&limit=99999999999"):
                response = await http.get(f"/api/posts?{query}")
                assert response.status_code == 400, (query, response.text)
            assert (await http.get("/api/audit?limit=%C2%B2")).status_code == 400
            async with ws_client(f"{running.ws_base}/ws/moderate",
                                 additional_headers={"Cookie": session_cookie(http)}) as ws:
                assert (await recv(ws))["type"] == "queue.snapshot"
                await ws.send("")
                assert (await recv(ws))["type"] == "error"
            for origin in (running.base + "0", running.base + ".evil.example",
                           running.base.replace(str(running.port), "99999")):
                with pytest.raises(InvalidStatus) as refused:
                    async with ws_client(f"{running.ws_base}/ws/moderate", origin=origin,
                                         additional_headers={"Cookie": session_cookie(http)}):
                        pass
                assert refused.value.response.status_code == 403, origin
        async with ws_client(f"{running.ws_base}/ws?since={2 ** 64 + 1}") as ws:
            first = await recv(ws)
            assert first["type"] == "error" and first["code"] == "bad_since"
            assert (await recv(ws))["type"] == "snapshot"
        async with ws_client(f"{running.ws_base}/ws") as ws:
            assert (await recv(ws))["type"] == "snapshot"
            await ws.send("")  # an empty frame right after the handshake
            pong = await asyncio.wait_for(await ws.ping(), TIMEOUT)
            assert pong is not None or ws.state.name == "OPEN"
        assert (await httpx.AsyncClient(timeout=TIMEOUT).get(f"{running.base}/healthz")
                ).status_code == 200


async def test_binary_and_invalid_utf8_frames_get_close_frames(store_url: str) -> None:
    """A binary frame on /ws/moderate closes with 1003; invalid UTF-8 on /ws with 1007."""
    async with run_server(make_settings(store_url=store_url)) as running:
        async with moderator(running) as http, ws_client(
                f"{running.ws_base}/ws/moderate",
                additional_headers={"Cookie": session_cookie(http)}) as ws:
            assert (await recv(ws))["type"] == "queue.snapshot"
            await ws.send(b"\x00\x01binary")
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), TIMEOUT)
            assert ws.close_code == 1003
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", running.port), TIMEOUT)
        writer.write(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                     b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     b"Sec-WebSocket-Version: 13\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        assert head.startswith(b"HTTP/1.1 101")
        payload = b"\xff\xfe"
        mask = b"\x01\x02\x03\x04"
        writer.write(bytes([0x81, 0x80 | len(payload)]) + mask
                     + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
        code = None
        async with asyncio.timeout(TIMEOUT):
            while code is None:
                header = await reader.readexactly(2)
                length = header[1] & 0x7F
                if length == 126:
                    length = int.from_bytes(await reader.readexactly(2), "big")
                elif length == 127:
                    length = int.from_bytes(await reader.readexactly(8), "big")
                data = await reader.readexactly(length)
                if header[0] & 0x0F == 0x8:
                    code = int.from_bytes(data[:2], "big")
        writer.close()
        assert code == 1007


async def test_forwarded_headers_are_ignored_unless_from_a_listed_proxy(store_url: str) -> None:
    """X-Forwarded-For from an unlisted peer does not change the address throttles see."""
    async with run_server(make_settings(store_url=store_url)) as running:
        frozen_clock(running)
        transport = httpx.AsyncHTTPTransport(local_address="127.0.0.1")
        async with httpx.AsyncClient(base_url=running.base, transport=transport,
                                     timeout=TIMEOUT) as http:
            for n in range(4):
                response = await http.post("/api/login", json={"name": "a", "password": "x"},
                                           headers={"X-Forwarded-For": f"10.0.0.{n}"})
                assert response.status_code == 401
            response = await http.post("/api/login", json={"name": "b", "password": PASSWORD},
                                       headers={"X-Forwarded-For": "10.9.9.9"})
            assert response.status_code == 429, response.text
            assert response.headers["retry-after"] == "5"
    proxied = make_settings(store_url=store_url, forwarded_allow_ips=["127.0.0.1"])
    async with run_server(proxied) as running, httpx.AsyncClient(
            base_url=running.base, timeout=TIMEOUT) as http:
        frozen_clock(running)
        for _ in range(5):
            await http.post("/api/login", json={"name": "a", "password": "x"},
                            headers={"X-Forwarded-For": "10.0.0.1"})
        response = await http.post("/api/login", json={"name": "b", "password": PASSWORD},
                                   headers={"X-Forwarded-For": "10.0.0.2"})
        assert response.status_code == 200, response.text


def test_ipv6_clients_are_throttled_per_64() -> None:
    """Two addresses of one IPv6 /64 share a throttle key; IPv4 and mapped IPv4 keep theirs."""
    assert address_key("2001:db8:1:2::1") == address_key("2001:db8:1:2:ffff::9")
    assert address_key("2001:db8:1:2::1") != address_key("2001:db8:1:3::1")
    assert address_key("::ffff:192.0.2.7") == address_key("192.0.2.7") == "ip:192.0.2.7"


async def test_lone_surrogates_get_clear_refusals_and_the_console_socket_stays(
        store_url: str) -> None:
    """`\\ud800` in an announcement, a login name or a command's ref is refused with 400 or
    an error carrying the ref back; the socket stays open and the server keeps working."""
    async with run_server(make_settings(store_url=store_url)) as running:
        async with httpx.AsyncClient(base_url=running.base, timeout=TIMEOUT) as anon:
            body = b'{"name": "\\ud800", "password": "x"}'
            response = await anon.post("/api/login", content=body,
                                       headers={"content-type": "application/json"})
            assert response.status_code == 400 and "surrogate" in response.json()["error"]
        async with moderator(running) as http:
            response = await http.post("/api/announce", content=b'{"text": "hi \\ud800"}',
                                       headers={"content-type": "application/json"})
            assert response.status_code == 400 and "surrogate" in response.json()["error"]
            async with ws_client(f"{running.ws_base}/ws/moderate",
                                 additional_headers={"Cookie": session_cookie(http)}) as ws:
                assert (await recv(ws))["type"] == "queue.snapshot"
                await ws.send('{"type": "announce", "text": "hello", "ref": "\\ud800"}')
                refused = await recv(ws)
                assert refused["type"] == "error" and refused["ref"] == "\ud800"
                await ws.send('{"type": "announce", "text": "bonjour \\udfff", "ref": "r1"}')
                assert (await recv(ws))["ref"] == "r1"
                await ws.send('{"type": "announce", "text": "bonjour", "ref": "r2"}')
                async with asyncio.timeout(TIMEOUT):
                    while (answer := await recv(ws)).get("ref") != "r2":
                        pass
                assert answer["type"] == "ack"
