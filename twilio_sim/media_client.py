"""Media Streams client (I/O shell): the simulator's side of `<Start>`/`<Connect><Stream>`.

The conference tick calls `send_tick()` (and `playout_frame()`) every 20 ms; a receiver
thread (a greenlet under gevent) feeds app messages to the sans-I/O `StreamSession`; one
sender thread is the socket's only writer, draining a queue of (due time, message).
"""
from __future__ import annotations

import contextlib
import json
import logging
import random
import socket
import ssl
import threading
from collections.abc import Callable

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection

from twilio_sim.audio import SILENCE
from twilio_sim.clock import Clock, RealClock
from twilio_sim.media_connect import Link as _Link
from twilio_sim.media_connect import open_socket
from twilio_sim.media_protocol import (
    Dropped,
    StreamConnectError,
    StreamSession,
    new_stream_sid,
    signed_upgrade,
)

__all__ = ["MediaStreamClient", "StreamConnectError", "new_stream_sid", "signed_upgrade"]
log = logging.getLogger("twilio_sim.media")
StatusHook = Callable[["MediaStreamClient", str, "str | None"], None]
_STOP = object()  # sender sentinel: close the socket after what is queued


class MediaStreamClient:
    """One Media Stream (WebSocket) from the simulated Twilio to an app.

    `on_status(client, event, error)` is called with Twilio's StreamEvent values:
    "stream-started" after `start` is queued, "stream-stopped" after `stop()` or when the app
    closes the socket (`closed_by_app`), "stream-error" when connecting fails or on `drop()`.
    """

    def __init__(self, url: str, *, auth_token: str, account_sid: str, call_sid: str,
                 stream_sid: str | None = None, tracks="inbound_track",
                 custom_parameters: dict[str, str] | None = None, bidirectional: bool = False,
                 name: str | None = None, on_status: StatusHook | None = None,
                 clock: Clock | None = None, open_timeout: float = 5.0,
                 ssl_context: ssl.SSLContext | None = None, seed: int | None = None) -> None:
        self.url, self.auth_token = url, auth_token
        sid = stream_sid or new_stream_sid()
        self.name = name or sid
        self.on_status, self.clock = on_status, clock or RealClock()
        self.open_timeout, self.ssl_context = open_timeout, ssl_context
        self.bidirectional = bidirectional
        self._link = _Link(StreamSession(account_sid, call_sid, sid, tracks,
                                         dict(custom_parameters or {}), bidirectional))
        self._rng = random.Random(seed)
        self._lock = threading.Lock()  # message numbering + enqueue happen atomically
        self._delay = self._jitter = 0.0
        self._ear_delay = self._ear_jitter = 0.0  # app -> caller latency (bidirectional)
        self.frames_sent = self.app_messages = self.marks_echoed = 0
        # Media accounting: ticks offered (connected or not), media messages queued for the
        # socket, and those written to it; queued - sent once closed were cut by the close.
        self.media_offered = self.media_queued = self.media_sent = 0
        self._warned = 0

    @property
    def session(self) -> StreamSession:
        """The current socket's sans-I/O session (numbering, playout buffer)."""
        return self._link.session

    @property
    def stream_sid(self) -> str:
        """The current stream SID (changes on restart)."""
        return self._link.session.stream_sid

    @property
    def closed(self) -> threading.Event:
        """Set once the current socket is gone."""
        return self._link.closed

    @property
    def closed_by_app(self) -> bool:
        """True if the app closed the current socket (for `<Connect>`: TwiML continues)."""
        return self._link.closed_by_app

    # Lifecycle ------------------------------------------------------------------------------
    def connect(self) -> None:
        """Open the signed upgrade, send connected + start; StreamConnectError on failure."""
        link = self._link
        try:
            ws = self._open()
        except StreamConnectError as exc:
            link.closing = True
            link.closed.set()
            self._status("stream-error", str(exc))
            raise
        with self._lock:
            # Frames offered before this point were skipped, so `start` is always "1".
            if not link.closing:
                link.ws = ws
                self._put(link, link.session.connected())
                self._put(link, link.session.start())
        if link.ws is None:  # stop() or drop() came while the upgrade was in flight
            self._close_quietly(ws)
            link.closed.set()
            return
        self._spawn(self._send_loop, link)
        self._spawn(self._recv_loop, link)
        self._status("stream-started")

    def _open(self) -> ClientConnection:
        return open_socket(self.url, self.auth_token, self.open_timeout, self.ssl_context)

    def stop(self, timeout: float = 5.0) -> None:
        """Send `stop`, close the socket after everything queued, report stream-stopped."""
        link = self._link
        with self._lock:
            if link.closing or link.ws is None:
                link.closing = True  # also cancels a connect still in flight
                return
            link.queue.put((self._due(link), json.dumps(link.session.stop()), False))
            link.closing = True
            link.queue.put((0.0, _STOP, False))
        link.closed.wait(timeout)
        self._status("stream-stopped")

    def drop(self) -> None:
        """Fault: cut the TCP connection at once, without `stop` or a close frame."""
        link = self._link
        with self._lock:
            if link.closing or link.ws is None:
                link.closing = True  # also cancels a connect still in flight
                return
            link.closing = True
        # Cut the socket before waking the sender, so no close frame can slip out.
        with contextlib.suppress(OSError):
            link.ws.socket.shutdown(socket.SHUT_RDWR)
        link.ws.socket.close()
        link.queue.put((0.0, _STOP, False))
        self._status("stream-error", "31924 stream dropped (fault injection)")

    def restart(self, graceful: bool = False) -> str:
        """Fault: end this stream (drop, or stop if `graceful`) and reconnect with a new SID."""
        self.stop() if graceful else self.drop()
        old = self._link.session
        if self.name == old.stream_sid:
            self.name = None
        self._link = _Link(StreamSession(old.account_sid, old.call_sid, new_stream_sid(),
                                         old.tracks, old.custom_parameters, old.bidirectional))
        self.name = self.name or self.stream_sid
        self.connect()
        return self.stream_sid

    def set_delay(self, ms: float, jitter_ms: float = 0.0) -> None:
        """Fault: hold every outgoing message `ms` (+ up to `jitter_ms`) ms; order is kept."""
        self._delay, self._jitter = ms / 1000.0, jitter_ms / 1000.0

    def set_playout_delay(self, ms: float, jitter_ms: float = 0.0) -> None:
        """Fault: the app's messages reach the playout buffer `ms` (+ jitter) late, in order
        (the network and Twilio's pipeline between the app and the caller's ear)."""
        self._ear_delay, self._ear_jitter = ms / 1000.0, jitter_ms / 1000.0

    def set_playout_start_delay(self, ms: float) -> None:
        """Fault: audio after an idle buffer starts playing `ms` late (jitter buffer fill)."""
        playout = self._link.session.playout
        if playout is not None:
            playout.start_delay_frames = round(ms / 20)

    # Per tick -------------------------------------------------------------------------------
    def send_tick(self, inbound: bytes | None = None, outbound: bytes | None = None) -> bool:
        """Send this 20 ms tick's frame on each track (None = silence); False if no socket
        took it (not connected yet, or closing: Twilio buffers nothing for a lost socket)."""
        link = self._link
        self.media_offered += 1
        if link.closing or link.ws is None:
            return False
        frames = {"inbound": inbound, "outbound": outbound}
        with self._lock:
            queued = False
            for track in link.session.tracks:
                queued = self._put(link, link.session.media(track, frames[track] or SILENCE,
                                                            link.tick)) or queued
            link.tick += 1
        self.frames_sent += 1
        return queued

    def playout_frame(self) -> bytes:
        """Bidirectional: the app audio that plays into the call this tick (silence if none)."""
        link = self._link
        if link.session.playout is None or link.ws is None or link.closed.is_set():
            return SILENCE
        with self._lock:
            now = self.clock.now()
            while link.inbox and link.inbox[0][0] <= now:
                self._apply(link, link.inbox.popleft()[1], now)
            frame, echoes = link.session.playout_tick(now)
            self._put_echoes(link, echoes)
        return frame

    def send_dtmf(self, digit: str) -> None:
        """Bidirectional: tell the app a key was pressed."""
        link = self._link
        with self._lock:
            self._put(link, link.session.dtmf(digit))

    # Sender / receiver ----------------------------------------------------------------------
    def _due(self, link: _Link) -> float:
        if not self._delay and not self._jitter:
            return 0.0
        due = self.clock.now() + self._delay + self._rng.uniform(0.0, self._jitter)
        link.last_due = max(link.last_due, due)  # TCP keeps order: never overtake
        return link.last_due

    def _put(self, link: _Link, msg: dict) -> bool:
        """Queue a message (caller holds the lock); nothing before connect or after close."""
        if link.ws is None or link.closing:
            return False
        media = msg.get("event") == "media"
        self.media_queued += media
        link.queue.put((self._due(link), json.dumps(msg, separators=(",", ":")), media))
        return True

    def _put_echoes(self, link: _Link, echoes: list[dict]) -> None:
        """Queue mark echoes (caller holds the lock), counting those that will really go out."""
        self.marks_echoed += sum(self._put(link, msg) for msg in echoes)

    def _send_loop(self, link: _Link) -> None:
        try:
            while True:
                due, text, media = link.queue.get()
                if text is _STOP:
                    break
                if due:
                    self.clock.sleep_until(due)
                link.ws.send(text)
                self.media_sent += media
        except (ConnectionClosed, OSError):
            pass
        finally:
            self._close_quietly(link.ws)

    def _recv_loop(self, link: _Link) -> None:
        try:
            for text in link.ws:
                self.app_messages += 1
                with self._lock:
                    now = self.clock.now()
                    if self._ear_delay or self._ear_jitter or link.inbox:
                        due = now + self._ear_delay + self._rng.uniform(0.0, self._ear_jitter)
                        link.last_arrival = max(link.last_arrival, due)  # order is kept
                        link.inbox.append((link.last_arrival, text))
                    else:
                        self._apply(link, text, now)
        except (ConnectionClosed, OSError):
            pass
        with self._lock:
            by_app = not link.closing
            link.closing = True
            link.queue.put((0.0, _STOP, False))
        link.closed_by_app = by_app
        link.closed.set()
        if by_app:
            self._status("stream-stopped")

    def _apply(self, link: _Link, text, now: float) -> None:
        """Feed one app message to the session (caller holds the lock)."""
        result = link.session.receive(text, now)
        if isinstance(result, Dropped):
            self._warn_dropped(link, result.reason)
        else:
            self._put_echoes(link, result)

    def _warn_dropped(self, link: _Link, reason: str) -> None:
        # Sampled (1 in 200) so a misbehaving app cannot flood the log; never logs payloads.
        if self._warned % 200 == 0:
            log.warning("dropped app message on %s: %s (%d dropped so far)",
                        link.session.stream_sid, reason, link.session.dropped)
        self._warned += 1

    @staticmethod
    def _close_quietly(ws: ClientConnection) -> None:
        with contextlib.suppress(Exception):  # the socket may already be gone
            ws.close()

    def _spawn(self, target, *args) -> None:
        threading.Thread(target=target, args=args, daemon=True,
                         name=f"{target.__name__}-{self.stream_sid[:10]}").start()

    def _status(self, event: str, error: str | None = None) -> None:
        if self.on_status is None:
            return
        try:
            self.on_status(self, event, error)
        except Exception:  # the hook is the caller's; a bug there must not kill the call
            log.exception("stream status hook failed for %s", self.stream_sid)
