"""Hostile input to the hand-written frame parser: fragments, floods, oversize, bad deflate."""
from __future__ import annotations

import os
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conference.media.wsframe import (
    OP_BINARY,
    OP_CONT,
    OP_PING,
    OP_TEXT,
    FrameParser,
    ProtocolError,
)
from conference.media.wsframe import unmask as xor


def client_frame(opcode: int, payload: bytes, fin: bool = True, rsv1: bool = False,
                 masked: bool = True) -> bytes:
    mask = os.urandom(4)
    b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    n = len(payload)
    if n < 126:
        head = bytes((b0, (0x80 if masked else 0) | n))
    elif n < 65536:
        head = bytes((b0, (0x80 if masked else 0) | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((b0, (0x80 if masked else 0) | 127)) + n.to_bytes(8, "big")
    return head + (mask + xor(payload, mask) if masked else payload)


def feed_in_chunks(parser: FrameParser, data: bytes, cuts: list[int]) -> list:
    out, last = [], 0
    for cut in sorted({c % (len(data) + 1) for c in cuts}) + [len(data)]:
        out += parser.feed(data[last:cut])
        last = cut
    return out


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4096), st.lists(st.integers(min_value=0), max_size=8))
def test_arbitrary_bytes_give_messages_or_a_protocol_error(data, cuts):
    parser = FrameParser(max_message=2048, deflate=True, max_fragments=8)
    try:
        out = feed_in_chunks(parser, data, cuts)
    except ProtocolError as exc:
        assert exc.code in (1002, 1007, 1009)
        return
    assert all(len(payload) <= 2048 for _, payload in out)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=300), min_size=1, max_size=8),
       st.lists(st.integers(min_value=0), max_size=6), st.booleans())
def test_fragmented_messages_reassemble_under_any_split(parts, cuts, ping_inside):
    frames = []
    for i, part in enumerate(parts):
        frames.append(client_frame(OP_BINARY if i == 0 else OP_CONT, part,
                                   fin=i == len(parts) - 1))
        if ping_inside and i == 0:
            frames.append(client_frame(OP_PING, b"p"))
    out = feed_in_chunks(FrameParser(), b"".join(frames), cuts)
    assert (OP_BINARY, b"".join(parts)) in out
    assert ((OP_PING, b"p") in out) == ping_inside


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=1, max_value=5000))
def test_oversized_totals_close_1009_at_the_cap(extra):
    parser = FrameParser(max_message=10000)
    data = (client_frame(OP_TEXT, b"a" * 6000, fin=False)
            + client_frame(OP_CONT, b"b" * (4000 + extra)))
    with pytest.raises(ProtocolError) as exc:
        parser.feed(data)
    assert exc.value.code == 1009


def test_empty_continuation_flood_closes_1009_without_keeping_the_fragments():
    empty = client_frame(OP_CONT, b"", fin=False)
    flood = client_frame(OP_BINARY, b"", fin=False) + empty * 550_000
    parser = FrameParser()
    with pytest.raises(ProtocolError) as exc:
        parser.feed(flood)  # ~3.3 MB of empty fragments, as in the report
    assert exc.value.code == 1009 and "fragments" in exc.value.reason


def test_many_small_complete_frames_in_one_feed_all_arrive():
    data = client_frame(OP_PING, b"") * 200_000
    assert len(FrameParser().feed(data)) == 200_000


@pytest.mark.parametrize("payload", [b"\xff\xfe\xfd garbage", b"\x06\x00"])
def test_invalid_deflate_closes_1007(payload):
    with pytest.raises(ProtocolError) as exc:
        FrameParser(deflate=True).feed(client_frame(OP_TEXT, payload, rsv1=True))
    assert exc.value.code == 1007


def test_deflate_bomb_closes_1009():
    deflater = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    bomb = deflater.compress(b"\0" * (4 << 20)) + deflater.flush(zlib.Z_SYNC_FLUSH)
    with pytest.raises(ProtocolError) as exc:
        FrameParser(deflate=True).feed(client_frame(OP_BINARY, bomb[:-4], rsv1=True))
    assert exc.value.code == 1009


@pytest.mark.parametrize(("data", "code"), [
    (client_frame(OP_TEXT, b"x", masked=False), 1002),
    (client_frame(OP_CONT, b"x"), 1002),
    (client_frame(OP_TEXT, b"a", fin=False) + client_frame(OP_CONT, b"b", rsv1=True), 1002),
    (client_frame(OP_TEXT, b"a", fin=False) + client_frame(OP_TEXT, b"b"), 1002),
    (client_frame(0x3, b"x"), 1002),
    (client_frame(0xB, b"x"), 1002),
    (client_frame(OP_PING, b"x" * 126), 1002),
    (client_frame(OP_PING, b"x", fin=False), 1002),
])
def test_protocol_violations_have_their_close_code(data, code):
    with pytest.raises(ProtocolError) as exc:
        FrameParser(deflate=True).feed(data)
    assert exc.value.code == code
