"""Adapter between a Stream resource and sim-audio's MediaStreamClient (one per stream)."""
from __future__ import annotations

import logging
from collections.abc import Callable

import gevent

from . import callbacks
from .media_client import MediaStreamClient, StreamConnectError
from .store import Call, Stream, rfc2822

log = logging.getLogger("twilio_sim.streams")


class StreamPort:
    """What the engine and the call leg use to drive one Media Stream."""

    def __init__(self, sim, stream: Stream, call: Call):
        self.sim, self.stream, self.call = sim, stream, call
        self.failed = False
        self.client = MediaStreamClient(
            stream.url, auth_token=sim.auth_token, account_sid=stream.account_sid,
            call_sid=call.sid, stream_sid=stream.sid, tracks=stream.track,
            custom_parameters=stream.parameters, bidirectional=stream.bidirectional,
            name=stream.name, on_status=self._on_status, clock=sim.clock)
        self._closed_callbacks: list[Callable[[], None]] = []

    def start(self, refusal: StreamConnectError | None = None) -> None:
        """Connect in the background (stream-started / stream-error callbacks follow);
        `refusal` makes it fail at connect time without dialing the app."""
        gevent.spawn(self._connect, refusal)

    def _connect(self, refusal: StreamConnectError | None) -> None:
        try:
            if refusal is not None:
                self._on_status(self.client, "stream-error", str(refusal))
                raise refusal
            self.client.connect()
        except StreamConnectError as exc:
            log.warning("stream %s could not connect: %s", self.stream.sid, exc)
            self.failed = True
            self.stream.error = str(exc)
            self._ended()
            return
        gevent.spawn(self._watch)

    def _watch(self) -> None:
        """The socket is gone (the app closed it, or it was lost): the stream is over, and a
        <Connect> ends, so its action URL runs. Twilio does not reconnect by itself
        (https://www.twilio.com/docs/voice/twiml/connect: action, "when <Connect> ends")."""
        self.client.closed.wait()
        if not self.client.closed_by_app and self.stream.status != "stopped":
            self.stream.error = self.stream.error or "31924 connection lost"
        self._ended()

    def _ended(self) -> None:
        if self.stream.status != "stopped":
            self.stream.status = "stopped"
            self.stream.date_updated = rfc2822(self.sim.now())
        self.sim.stream_ended(self)
        self._fire_closed()

    def on_closed(self, callback: Callable[[], None]) -> None:
        """Call `callback` once the stream's socket is gone (or it failed to connect)."""
        self._closed_callbacks.append(callback)
        if self.failed:
            callback()

    def _fire_closed(self) -> None:
        for callback in self._closed_callbacks:
            callback()

    # ---- per tick ----------------------------------------------------------------------------
    def feed(self, up: bytes, down: bytes) -> None:
        """A fork: inbound = the leg's own voice, outbound = what the leg hears."""
        self.client.send_tick(inbound=up, outbound=down)

    def send_inbound(self, up: bytes) -> bool:
        """A bidirectional stream: what the party says goes to the app (False: no socket)."""
        return self.client.send_tick(inbound=up)

    def playout_frame(self) -> bytes:
        """A bidirectional stream: the app audio due this tick."""
        return self.client.playout_frame()

    def dtmf(self, digit: str) -> None:
        """A bidirectional stream: a key press."""
        if self.stream.bidirectional:
            self.client.send_dtmf(digit)

    # ---- control -----------------------------------------------------------------------------
    def stop(self) -> None:
        """Send `stop` and close (in the background: never blocks the caller)."""
        closer = gevent.spawn(self.client.stop)
        self.sim.closing.add(closer)
        closer.link(self.sim.closing.discard)

    def kill(self) -> None:
        """Fault: cut the socket without `stop` (a lost connection): the stream ends."""
        self.stream.error = "31924 connection lost (fault injection)"
        self.client.drop()

    def set_delay(self, ms: float, jitter_ms: float, direction: str = "to_app") -> None:
        """Fault: delay (and jitter) messages to the app, or app audio on its way to the ear."""
        if direction == "to_app":
            self.client.set_delay(ms, jitter_ms)
        else:
            self.client.set_playout_delay(ms, jitter_ms)

    def _on_status(self, client, event: str, error: str | None) -> None:
        stream = self.stream
        params = callbacks.stream_event(stream, event, self.sim.now(), error)
        self.sim.sender.post(stream.status_callback, stream.status_callback_method, params)
