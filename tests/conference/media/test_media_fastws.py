"""FastSocket under gevent: the read loop is the socket's only writer, woken by poke()."""
from __future__ import annotations

import gevent
import pytest
from gevent import socket as gsocket
from simple_websocket import ConnectionClosed
from test_media_wsframe import client_frame

from conference.media.fastws import FastSocket
from conference.media.wsframe import OP_TEXT


class _Upgraded:
    """What flask-sock hands over after the handshake: a socket and the request environ."""

    def __init__(self, sock) -> None:
        self.sock, self.environ, self.connected = sock, {}, True


@pytest.fixture
def pair():
    server, peer = gsocket.socketpair()
    yield FastSocket(_Upgraded(server)), peer
    server.close()
    peer.close()


def _read_messages(peer, count: int) -> list[bytes]:
    """Text messages from the server side (unmasked frames, short payloads)."""
    buf, got = b"", []
    while len(got) < count:
        data = peer.recv(65536)
        assert data, "peer closed early"
        buf += data
        while len(buf) >= 2 and len(buf) >= 2 + (buf[1] & 0x7F):
            size = buf[1] & 0x7F
            assert size < 126 and not buf[1] & 0x80
            if buf[0] & 0x0F == OP_TEXT:
                got.append(buf[2:2 + size])
            buf = buf[2 + size:]
    return got


def test_poke_runs_the_flush_in_the_reading_greenlet(pair):
    fs, peer = pair
    flushed_in, outbox, received = [], [], []

    def flush() -> None:
        flushed_in.append(gevent.getcurrent())
        while outbox:
            fs.send(outbox.pop(0))

    poke = fs.own_writes(flush)
    assert poke is not None
    reader = gevent.spawn(lambda: [received.append(fs.receive()) for _ in range(2)])
    gevent.sleep(0)  # the reader is now parked, waiting for the peer

    def other_greenlet() -> None:
        outbox.append("from elsewhere")
        poke()  # must wake the parked reader, which then writes

    gevent.spawn(other_greenlet).join()
    assert _read_messages(peer, 1) == [b"from elsewhere"]
    assert flushed_in == [reader]  # written by the reader, not by the poking greenlet

    peer.sendall(client_frame(OP_TEXT, b"one") + client_frame(OP_TEXT, b"two"))
    reader.join(timeout=5)
    assert received == [b"one", b"two"]
    assert flushed_in == [reader]  # messages alone do not flush: only a poke does


def test_pokes_while_busy_coalesce_into_one_flush(pair):
    fs, peer = pair
    flushes = []
    poke = fs.own_writes(lambda: flushes.append(fs.send(f"f{len(flushes)}")))
    reader = gevent.spawn(fs.receive)
    gevent.sleep(0)
    poke()
    poke()
    poke()
    assert _read_messages(peer, 1) == [b"f0"]
    peer.sendall(client_frame(OP_TEXT, b"done"))
    assert reader.get(timeout=5) == b"done"
    assert len(flushes) == 1


def test_a_flush_that_finds_the_socket_gone_ends_the_read_loop(pair):
    fs, peer = pair

    def flush() -> None:
        fs.send("x")

    poke = fs.own_writes(flush)
    reader = gevent.spawn(fs.receive)
    gevent.sleep(0)
    fs.close()  # e.g. fenced by a newer socket
    poke()
    with pytest.raises(ConnectionClosed):
        reader.get(timeout=5)


def test_without_gevent_sockets_there_is_no_inline_writer():
    import socket

    a, b = socket.socketpair()
    try:
        assert FastSocket(_Upgraded(a)).own_writes(lambda: None) is None
    finally:
        a.close()
        b.close()


def test_a_write_bigger_than_the_socket_buffer_arrives_whole(pair):
    fs, peer = pair
    big = "x" * (3 << 20)  # far more than a socketpair buffers: the raw send is partial
    received = bytearray()

    def read_all() -> None:
        while len(received) < 10 + len(big) + 7:
            received.extend(peer.recv(1 << 16))

    reader = gevent.spawn(read_all)
    fs.send(big)
    fs.send("after")
    reader.join(timeout=10)
    assert received[0] == 0x81 and received[1] == 127
    assert int.from_bytes(received[2:10], "big") == len(big)
    assert received[10:10 + len(big)] == big.encode()
    assert received[10 + len(big):] == b"\x81\x05after"  # the next frame follows intact
