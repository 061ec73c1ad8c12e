"""The flask echo with a lean inline WebSocket instead of flask-sock/simple-websocket/wsproto.

A measured prototype for the media plane (see bench/README.md): one greenlet per socket, no
reader thread, RFC 6455 frames parsed with a few slices and unmasked with one big-int XOR,
and every reply produced by one recv() written with one sendall().
Serve: gunicorn --worker-class gevent "bench.flask_lean:create_app()".
"""
from __future__ import annotations

import base64
import hashlib
import json
import struct

from flask import Flask, Response, request

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, CLOSE, PING = 0x1, 0x8, 0x9


class FrameReader:
    """Sans-I/O: bytes in, complete (opcode, payload) client frames out."""

    def __init__(self, max_size: int = 1 << 20) -> None:
        self.buf = bytearray()
        self.max_size = max_size

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        """Append received bytes; return every frame they complete (masks removed)."""
        buf, frames = self.buf, []
        buf += data
        while len(buf) >= 6:
            opcode, size, at = buf[0] & 0x0F, buf[1] & 0x7F, 2
            if size == 126:
                if len(buf) < 8:
                    break
                size, at = struct.unpack_from("!H", buf, 2)[0], 4
            elif size == 127:
                if len(buf) < 14:
                    break
                size, at = struct.unpack_from("!Q", buf, 2)[0], 10
            if size > self.max_size:
                raise ValueError("frame too large")
            end = at + 4 + size
            if len(buf) < end:
                break
            mask = bytes(buf[at : at + 4]) * (size // 4 + 1)
            masked = int.from_bytes(buf[at + 4 : end], "little")
            key = int.from_bytes(mask[:size], "little")
            frames.append((opcode, (masked ^ key).to_bytes(size, "little")))
            del buf[:end]
        return frames


def frame(opcode: int, payload: bytes) -> bytes:
    """One unmasked server frame."""
    size = len(payload)
    if size < 126:
        return bytes((0x80 | opcode, size)) + payload
    if size < 1 << 16:
        return struct.pack("!BBH", 0x80 | opcode, 126, size) + payload
    return struct.pack("!BBQ", 0x80 | opcode, 127, size) + payload


def handshake(sock, key: str) -> None:
    """Answer the upgrade with 101 (no extensions: per-message deflate would cost far more)."""
    accept = base64.b64encode(hashlib.sha1(key.encode() + _GUID).digest())
    sock.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")


class _Handled(Response):
    """Tell gunicorn the connection was consumed (what flask-sock does)."""

    def __call__(self, *args, **kwargs):
        raise StopIteration()


def create_app() -> Flask:
    """The lean echo app at the AI-leg path."""
    app = Flask(__name__)

    @app.route("/twilio/ai-stream", websocket=True)
    def ai_stream():
        sock = request.environ["gunicorn.socket"]
        handshake(sock, request.headers["Sec-WebSocket-Key"])
        reader, stream_sid, open_ = FrameReader(), None, True
        while open_:
            data = sock.recv(65536)
            if not data:
                break
            out = []
            for opcode, payload in reader.feed(data):
                if opcode == CLOSE:
                    out.append(frame(CLOSE, payload[:2]))
                    open_ = False
                    break
                if opcode == PING:
                    out.append(frame(0xA, payload))
                    continue
                msg = json.loads(payload)
                event = msg.get("event")
                if event == "media" and stream_sid is not None:
                    reply = {"event": "media", "streamSid": stream_sid,
                             "media": {"payload": msg["media"]["payload"]}}
                    out.append(frame(TEXT, json.dumps(reply).encode()))
                elif event == "start":
                    stream_sid = msg["start"]["streamSid"]
            if out:
                sock.sendall(b"".join(out))
        return _Handled()

    return app
