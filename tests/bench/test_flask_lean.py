"""The lean WebSocket prototype's frame codec (sans-I/O), checked against RFC 6455 framing."""
from __future__ import annotations

import os
import struct

import pytest

from bench.flask_lean import CLOSE, TEXT, FrameReader, frame


def client_frame(opcode: int, payload: bytes) -> bytes:
    """A masked client frame, built independently of the code under test."""
    mask = os.urandom(4)
    size = len(payload)
    if size < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
    elif size < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, size)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def test_frames_split_anywhere_are_reassembled_and_unmasked():
    payloads = [b"", b"x" * 125, b'{"event":"media"}' * 20, os.urandom(70000)]
    wire = b"".join(client_frame(TEXT, p) for p in payloads) + client_frame(CLOSE, b"\x03\xe8")
    reader, got = FrameReader(), []
    for at in range(0, len(wire), 333):
        got += reader.feed(wire[at : at + 333])
    assert got == [(TEXT, p) for p in payloads] + [(CLOSE, b"\x03\xe8")]
    assert reader.buf == bytearray()


def test_server_frames_are_unmasked_with_the_right_length_form():
    assert frame(TEXT, b"hi") == b"\x81\x02hi"
    assert frame(TEXT, b"a" * 300)[:4] == b"\x81\x7e\x01\x2c"
    assert frame(TEXT, b"a" * 70000)[:2] == b"\x81\x7f"


def test_oversized_frame_is_refused():
    with pytest.raises(ValueError):
        FrameReader(max_size=10).feed(client_frame(TEXT, b"x" * 11))
