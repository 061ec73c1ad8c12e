"""Sans-I/O WebSocket framing (RFC 6455) for the media hot path: server side only.

flask-sock/simple-websocket do the HTTP upgrade; after it, this parser and `frame()` carry the
messages with far less per-message work than a general-purpose stack. Client frames must be
masked; fragmented and (permessage-deflate) compressed messages are supported.
"""
from __future__ import annotations

import zlib

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


class ProtocolError(Exception):
    """The peer broke RFC 6455; `code` is the close code to answer with."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def unmask(payload: bytes, mask: bytes) -> bytes:
    """XOR `payload` with the 4-byte `mask` (big-integer XOR: one C loop, no Python loop)."""
    n = len(payload)
    if not n:
        return b""
    key = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")


def frame(opcode: int, payload: bytes) -> bytes:
    """One unmasked, final server frame."""
    n = len(payload)
    if n < 126:
        return bytes((0x80 | opcode, n)) + payload
    if n < 65536:
        return bytes((0x80 | opcode, 126)) + n.to_bytes(2, "big") + payload
    return bytes((0x80 | opcode, 127)) + n.to_bytes(8, "big") + payload


def close_frame(code: int, reason: str = "") -> bytes:
    """A close frame with a status code."""
    return frame(OP_CLOSE, code.to_bytes(2, "big") + reason.encode()[:120])


class FrameParser:
    """Feed bytes, get complete messages and control frames: (opcode, payload) tuples.

    Hostile peers are bounded: a message's size is a running total (never re-summed), a message
    may span at most `max_fragments` frames, and bytes are consumed by offset, so a flood of
    tiny frames costs linear time. Broken deflate data closes with 1007, not a zlib traceback.
    """

    def __init__(self, max_message: int = 1 << 20, deflate: bool = False,
                 max_fragments: int = 64) -> None:
        self.buf = bytearray()
        self.max_message = max_message
        self.max_fragments = max_fragments
        self._parts: list[bytes] = []
        self._size = 0
        self._opcode = 0
        self._compressed = False
        self._inflater = zlib.decompressobj(-zlib.MAX_WBITS) if deflate else None

    def feed(self, data: bytes | bytearray | memoryview) -> list[tuple[int, bytes]]:
        """Add received bytes; return every message/control frame now complete.

        `data` is not kept (only a partial frame's bytes are copied), so the caller may reuse
        its buffer: with no partial frame pending, the frames are parsed where they lie.
        """
        buf = self.buf
        src: bytes | bytearray | memoryview = data
        if buf:
            buf += data
            src = buf
        out: list = []
        pos = 0
        try:
            while True:
                got = self._next(src, pos)
                if got is None:
                    return out
                pos, message = got
                if message is not None:
                    out.append(message)
        finally:
            if src is buf:
                del buf[:pos]
            elif pos < len(src):
                buf += src[pos:]  # the start of a frame still on its way

    def _next(self, buf: bytes | bytearray | memoryview, pos: int):
        have = len(buf) - pos
        if have < 2:
            return None
        b0, b1 = buf[pos], buf[pos + 1]
        length, offset = b1 & 0x7F, pos + 2
        if length == 126:
            if have < 4:
                return None
            length, offset = int.from_bytes(buf[pos + 2:pos + 4], "big"), pos + 4
        elif length == 127:
            if have < 10:
                return None
            length, offset = int.from_bytes(buf[pos + 2:pos + 10], "big"), pos + 10
        if not b1 & 0x80:
            raise ProtocolError(1002, "client frames must be masked")
        if length > self.max_message or (b0 & 0x08 == 0 and self._size + length > self.max_message):
            raise ProtocolError(1009, "message too big")
        end = offset + 4 + length
        if len(buf) < end:
            return None
        payload = unmask(bytes(buf[offset + 4:end]), bytes(buf[offset:offset + 4]))
        return end, self._assemble(b0, payload)

    def _assemble(self, b0: int, payload: bytes):
        opcode, fin, rsv1 = b0 & 0x0F, b0 & 0x80, b0 & 0x40
        if b0 & 0x30 or (rsv1 and self._inflater is None):
            raise ProtocolError(1002, "reserved bits set")
        if opcode >= 0x8:
            if not fin or len(payload) > 125 or opcode not in (OP_CLOSE, OP_PING, OP_PONG):
                raise ProtocolError(1002, "bad control frame")
            return opcode, payload
        self._start_or_continue(opcode, rsv1)
        self._parts.append(payload)
        self._size += len(payload)
        if not fin:
            return None
        data = self._parts[0] if len(self._parts) == 1 else b"".join(self._parts)
        self._parts, self._size = [], 0
        return self._opcode, self._inflate(data) if self._compressed else data

    def _start_or_continue(self, opcode: int, rsv1: int) -> None:
        if opcode == OP_CONT:
            if not self._parts:
                raise ProtocolError(1002, "continuation without a start")
            if rsv1:
                raise ProtocolError(1002, "RSV1 on a continuation frame")
            if len(self._parts) >= self.max_fragments:
                raise ProtocolError(1009, "too many fragments in one message")
            return
        if self._parts:
            raise ProtocolError(1002, "new message inside a fragmented one")
        if opcode not in (OP_TEXT, OP_BINARY):
            raise ProtocolError(1002, "unknown opcode")
        self._opcode, self._compressed = opcode, bool(rsv1)

    def _inflate(self, data: bytes) -> bytes:
        try:
            out = self._inflater.decompress(data + b"\x00\x00\xff\xff", self.max_message)
        except zlib.error:
            raise ProtocolError(1007, "invalid permessage-deflate data") from None
        if self._inflater.unconsumed_tail:
            raise ProtocolError(1009, "message too big once inflated")
        return out
