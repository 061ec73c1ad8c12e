"""WebSocket framing of the fast media transport: masking, lengths, fragments, control, deflate."""
from __future__ import annotations

import os
import zlib

import pytest

from conference.media.wsframe import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_TEXT,
    FrameParser,
    ProtocolError,
    close_frame,
    frame,
    unmask,
)


def client_frame(opcode: int, payload: bytes, fin: bool = True, rsv1: bool = False) -> bytes:
    mask = os.urandom(4)
    b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    n = len(payload)
    if n < 126:
        head = bytes((b0, 0x80 | n))
    elif n < 65536:
        head = bytes((b0, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((b0, 0x80 | 127)) + n.to_bytes(8, "big")
    return head + mask + unmask(payload, mask)


def test_a_reused_receive_buffer_is_never_kept():
    # FastSocket reads every socket into one shared buffer: whatever a feed leaves pending
    # (the start of a frame) must be a copy, and the messages must own their bytes.
    first, second = b'{"event":"media","n":1}', b'{"event":"media","n":2}'
    wire = client_frame(OP_TEXT, first) + client_frame(OP_TEXT, second)
    shared = bytearray(64)
    view = memoryview(shared)
    cut = len(wire) - 5  # the second frame's last 5 bytes come with the next read
    shared[:cut] = wire[:cut]
    parser = FrameParser()
    got = parser.feed(view[:cut])
    shared[:] = b"\xee" * len(shared)  # the next read overwrites the buffer
    shared[:5] = wire[cut:]
    got += parser.feed(view[:5])
    assert got == [(OP_TEXT, first), (OP_TEXT, second)]
    assert all(type(payload) is bytes for _, payload in got) and parser.buf == bytearray()


@pytest.mark.parametrize("size", [0, 1, 125, 126, 300, 65535, 65536, 70000])
def test_lengths_round_trip_byte_by_byte_and_whole(size):
    payload = os.urandom(size)
    data = client_frame(OP_BINARY, payload)
    parser = FrameParser()
    got = []
    for i in range(0, len(data), 997):
        got += parser.feed(data[i:i + 997])
    assert got == [(OP_BINARY, payload)]
    assert FrameParser().feed(data * 2) == [(OP_BINARY, payload)] * 2


def test_server_frames_have_the_right_headers():
    assert frame(OP_TEXT, b"hi") == b"\x81\x02hi"
    assert frame(OP_TEXT, b"x" * 300)[:4] == b"\x81\x7e\x01\x2c"
    assert frame(OP_BINARY, b"x" * 70000)[:2] == b"\x82\x7f"
    assert close_frame(1008, "bad") == b"\x88\x05\x03\xf0bad"


def test_fragments_and_interleaved_ping():
    parser = FrameParser()
    data = (client_frame(OP_TEXT, b"hel", fin=False) + client_frame(OP_PING, b"p")
            + client_frame(OP_CONT, b"lo"))
    assert parser.feed(data) == [(OP_PING, b"p"), (OP_TEXT, b"hello")]


def test_permessage_deflate_messages_are_inflated():
    comp = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    body = comp.compress(b'{"event":"media"}' * 20) + comp.flush(zlib.Z_SYNC_FLUSH)
    assert body.endswith(b"\x00\x00\xff\xff")
    parser = FrameParser(deflate=True)
    assert parser.feed(client_frame(OP_TEXT, body[:-4], rsv1=True)) == [
        (OP_TEXT, b'{"event":"media"}' * 20)]


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"\x81\x02hi", 1002),  # unmasked client frame
        (client_frame(OP_CONT, b"x"), 1002),
        (client_frame(0x3, b"x"), 1002),  # reserved opcode
        (client_frame(OP_TEXT, b"x", rsv1=True), 1002),  # no deflate negotiated
        (client_frame(OP_CLOSE, b"x" * 126), 1002),  # control frame too long
        (client_frame(OP_TEXT, b"x" * 2000), 1009),
    ],
)
def test_protocol_errors_carry_close_codes(data, code):
    with pytest.raises(ProtocolError) as info:
        FrameParser(max_message=1000).feed(data)
    assert info.value.code == code
