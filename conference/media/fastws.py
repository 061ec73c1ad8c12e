"""Fast message transport for the media sockets, taking over after flask-sock's upgrade.

simple-websocket performs the handshake; its per-socket reader thread is not started for the
media routes (see `HandOffThread`), and `FastSocket` reads and writes frames itself through the
sans-I/O `wsframe` codec. Same surface as simple-websocket: receive(), send(), close().
"""
from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

from flask import has_request_context, request
from gevent.hub import Waiter
from simple_websocket import ConnectionClosed

from conference.media.wsframe import (
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    FrameParser,
    ProtocolError,
    close_frame,
    frame,
)

MEDIA_BLUEPRINT = "media_sockets"
# One receive buffer for every socket of the worker: under gevent a read and the parsing of what
# it got never yield, and FrameParser keeps no reference to it. A fresh 64 KB bytes per read
# (shrunk to the ~400 bytes received) made glibc carve and split 64 KB holes all over its heap.
_READ_BUF = memoryview(bytearray(65536))


class HandOffThread(threading.Thread):
    """simple-websocket's reader thread; left unstarted on media routes, where FastSocket reads."""

    def start(self) -> None:
        if has_request_context() and request.blueprint == MEDIA_BLUEPRINT:
            return
        super().start()


def _release_handshake_state(ws) -> None:
    """Drop what simple-websocket keeps for its own reader (its protocol state machine, the
    unstarted thread and its event): FastSocket never uses them, and they would stay alive,
    KBs per socket, for the whole call. `ws` stays marked connected until FastSocket ends."""
    for name in ("ws", "thread", "event", "input_buffer"):
        if hasattr(ws, name):
            setattr(ws, name, None)


class FastSocket:
    """One upgraded media socket; a lock keeps each frame whole when control replies interleave."""

    def __init__(self, ws, max_message: int = 1 << 20) -> None:
        self.ws = ws
        self.sock = ws.sock
        offers = ws.environ.get("HTTP_SEC_WEBSOCKET_EXTENSIONS", "")
        self.parser = FrameParser(max_message, deflate="permessage-deflate" in offers)
        _release_handshake_state(ws)
        # Messages of the last read, newest first: receive() pops the end, and reads again only
        # once it is empty (a list: an empty deque costs a 64-slot block per socket).
        self.pending: list[bytes] = []
        self.connected = True
        self.close_code: int | None = None
        self.peer_closed = False
        self.thread = None
        self._lock = threading.Lock()
        # Under gevent, wait for readability first and then read the raw non-blocking socket:
        # one recv per message instead of a recv that fails with EAGAIN, a wait and a recv.
        raw, self._read_event = getattr(self.sock, "_sock", None), None
        if raw is not None and hasattr(self.sock, "_read_event") and hasattr(self.sock, "hub"):
            self._read_event, self._hub = self.sock._read_event, self.sock.hub
        # Under gevent into the shared buffer; with real threads (tests) a fresh bytes per read.
        self._raw_recv_into = raw.recv_into if self._read_event is not None else None
        self._raw_recv = self.sock.recv
        self._raw_send = raw.send if self._read_event is not None else self.sock.send
        # The owner's flush: run by this reader before it sleeps.
        self._on_idle: Callable[[], None] | None = None
        self._poked = False
        self._parked: Waiter | None = None

    def own_writes(self, flush: Callable[[], None]) -> Callable[[], None] | None:
        """Make the reading greenlet this socket's only writer: it runs `flush` whenever it is
        about to sleep and someone called the returned poke(); None when not on gevent."""
        if self._read_event is None:
            return None
        self._on_idle = flush
        return self.poke

    def poke(self) -> None:
        """Ask the reader to run its flush soon (wakes it if it is waiting for the peer)."""
        self._poked = True
        waiter, self._parked = self._parked, None
        if waiter is not None:
            self._hub.loop.run_callback(waiter.switch, False)

    def _park(self) -> bool:
        """Sleep until the peer sent something (True) or poke() (False)."""
        waiter = Waiter(self._hub)
        event = self._read_event
        event.start(waiter.switch, True)
        self._parked = waiter
        try:
            return waiter.get()
        finally:
            self._parked = None
            event.stop()

    def receive(self) -> bytes:
        """The next text or binary message (as bytes); raises ConnectionClosed at the end."""
        pending = self.pending
        while not pending:
            if not self.connected:
                raise ConnectionClosed(self.close_code or 1006, "")
            if self._poked and self._on_idle is not None:
                self._poked = False
                self._on_idle()  # may raise ConnectionClosed: the socket is gone
                continue
            self._read_some()
        return pending.pop()

    def _read_some(self) -> None:
        # A call of its own, so the read and its frames die on return instead of staying
        # alive (KBs per socket) in receive()'s frame while the greenlet waits for the next.
        data: bytes | memoryview
        try:
            if self._read_event is not None and not self._park():
                return  # poked: flush, then wait again
            if self._raw_recv_into is not None:
                data = _READ_BUF[:self._raw_recv_into(_READ_BUF)]
            else:
                data = self._raw_recv(65536)
        except BlockingIOError:
            return  # a spurious wake-up: wait again
        except OSError:
            data = b""
        if not data:
            self._gone(1006)
            return
        try:
            frames = self.parser.feed(data)
        except ProtocolError as exc:
            self.close(exc.code, exc.reason)
            return
        pending = self.pending  # empty: receive() reads only then
        try:
            for opcode, payload in frames:
                if opcode in (OP_TEXT, OP_BINARY):
                    pending.append(payload)
                elif opcode == OP_PING:
                    self._write(frame(OP_PONG, payload))
                elif opcode == OP_CLOSE:
                    self.peer_closed = True
                    code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1000
                    self.close(1000 if code in (1005, 1006) else code)
                    return
        finally:
            pending.reverse()  # oldest last: pop() takes it first

    def send(self, text: str | bytes) -> None:
        """Send one message: str as a text frame, bytes as binary."""
        if not self.connected:
            raise ConnectionClosed(self.close_code or 1006, "")
        if isinstance(text, str):
            self._write(frame(OP_TEXT, text.encode()))
        else:
            self._write(frame(OP_BINARY, text))

    def send_many(self, texts: list[str]) -> None:
        """Send several text messages with one write (a media chunk and its mark, say)."""
        if not self.connected:
            raise ConnectionClosed(self.close_code or 1006, "")
        self._write(b"".join(frame(OP_TEXT, text.encode()) for text in texts))

    def close(self, reason: int | None = None, message: str | None = None) -> None:
        """Send a close frame (once) and stop accepting sends."""
        if not self.connected:
            return
        self.close_code = reason or 1000
        with contextlib.suppress(ConnectionClosed):
            self._write(close_frame(self.close_code, message or ""))
        self._gone(self.close_code)

    def wait_closed(self, timeout: float = 1.0) -> None:
        """After our close frame, give the peer `timeout` s to answer it before TCP ends."""
        if self.peer_closed:
            return
        try:
            self.sock.settimeout(timeout)
            while True:
                data = self.sock.recv(4096)
                if not data or any(op == OP_CLOSE for op, _ in self.parser.feed(data)):
                    return
        except (OSError, ProtocolError):
            return

    def _gone(self, code: int) -> None:
        self.connected = False
        self.close_code = self.close_code or code
        self.ws.connected = False  # flask-sock's own close() becomes a no-op

    def _write(self, data: bytes) -> None:
        with self._lock:
            try:
                # send() first: gevent's sendall() asks the kernel for SO_SNDBUF on every call,
                # which costs more than the send itself for a 300-byte media message. Under
                # gevent the raw non-blocking socket is used; a full buffer waits in sendall().
                try:
                    sent = self._raw_send(data)
                except BlockingIOError:
                    sent = 0
                if sent < len(data):
                    self.sock.sendall(data[sent:])
            except OSError as exc:
                self._gone(1006)
                raise ConnectionClosed(1006, "") from exc
