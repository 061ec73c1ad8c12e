"""Attacks on the media sockets' framing, against a real gunicorn worker."""
from __future__ import annotations

import base64
import contextlib
import os
import socket

import pytest
from attack_server import AUTH_TOKEN, PUBLIC
from twilio.request_validator import RequestValidator

pytestmark = pytest.mark.slow


def upgrade(forkline, path: str = "/twilio/fork", extensions: str = "") -> socket.socket:
    """A signed WebSocket upgrade, as Twilio opens it; the socket after the 101."""
    url = PUBLIC.replace("https://", "wss://") + path
    sig = RequestValidator(AUTH_TOKEN).compute_signature(url, {})
    key = base64.b64encode(os.urandom(16)).decode()
    head = (f"GET {path} HTTP/1.1\r\nHost: forkline.attack.test\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"X-Twilio-Signature: {sig}\r\n")
    if extensions:
        head += f"Sec-WebSocket-Extensions: {extensions}\r\n"
    s = socket.create_connection(("127.0.0.1", forkline.port), timeout=20)
    s.sendall((head + "\r\n").encode())
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(4096)
    assert data.startswith(b"HTTP/1.1 101"), data
    return s


def masked(b0: int, payload: bytes) -> bytes:
    assert len(payload) < 126
    return bytes((b0, 0x80 | len(payload))) + b"\0\0\0\0" + payload  # a zero mask is legal


def close_code(s: socket.socket) -> int:
    """Read until the server's close frame; its status code."""
    data = b""
    while True:
        chunk = s.recv(65536)
        assert chunk, "connection ended without a close frame"
        data += chunk
        while len(data) >= 2:
            n = data[1] & 0x7F
            if len(data) < 2 + n:
                break
            if data[0] & 0x0F == 0x8:
                return int.from_bytes(data[2:4], "big")
            data = data[2 + n:]


def test_empty_continuation_flood_is_closed_1009_and_the_worker_answers(forkline):
    s = upgrade(forkline)
    flood = masked(0x02, b"") + masked(0x00, b"") * 550_000  # ~3.3 MB of empty fragments
    with contextlib.suppress(OSError):  # the server may close before taking it all
        s.sendall(flood)
    assert close_code(s) == 1009
    assert forkline.healthz() == 200
    s.close()


def test_invalid_deflate_is_closed_1007_not_a_traceback(forkline):
    s = upgrade(forkline, extensions="permessage-deflate")
    s.sendall(masked(0x80 | 0x40 | 0x01, b"\xff\xfe garbage"))
    assert close_code(s) == 1007
    assert forkline.healthz() == 200
    s.close()
    assert "zlib.error" not in forkline.log.read_text()


def test_unmasked_frame_is_closed_1002(forkline):
    s = upgrade(forkline)
    s.sendall(bytes((0x81, 2)) + b"{}")
    assert close_code(s) == 1002
    s.close()
