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

    def start(self) -> None:
        """Connect in the background (stream-started / stream-error callbacks follow)."""
        gevent.spawn(self._connect)

    def _connect(self) -> None:
        try:
            self.client.connect()
        except StreamConnectError as exc:
            log.warning("stream %s could not connect: %s", self.stream.sid, exc)
            self.failed = True
            self.stream.status = "stopped"
            self._fire_closed()
            return
        gevent.spawn(self._watch)

    def _watch(self) -> None:
        """A <Connect> ends when the app closes the socket (not on injected drops/restarts)."""
        while self.stream.status != "stopped":
            event = self.client.closed
            event.wait()
            if self.client.closed is not event:
                continue  # restarted: watch the new socket
            if self.client.closed_by_app:
                self.stream.status = "stopped"
                self.stream.date_updated = rfc2822(self.sim.now())
                self._fire_closed()
                return
            gevent.sleep(0.05)  # dropped by a fault: wait for a restart or the call's end

    def on_closed(self, callback: Callable[[], None]) -> None:
        """Call `callback` once the app closes the stream (or it fails to connect)."""
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

    def send_inbound(self, up: bytes) -> None:
        """A bidirectional stream: what the party says goes to the app."""
        self.client.send_tick(inbound=up)

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

    def drop(self) -> None:
        """Fault: cut the socket without `stop`."""
        self.client.drop()

    def set_delay(self, ms: float, jitter_ms: float) -> None:
        """Fault: delay (and jitter) every message to the app."""
        self.client.set_delay(ms, jitter_ms)

    def restart(self, graceful: bool = False) -> str:
        """Fault: drop (or stop) the socket and reconnect with a new streamSid (same callSid)."""
        old = self.stream
        new = Stream(call_sid=old.call_sid, account_sid=old.account_sid, url=old.url,
                     name=old.name, track=old.track, parameters=dict(old.parameters),
                     status_callback=old.status_callback,
                     status_callback_method=old.status_callback_method,
                     bidirectional=old.bidirectional, client=self)
        old.status, old.client = "stopped", None
        self.stream = new
        self.call.streams.append(new)
        self.client.restart(graceful=graceful)
        new.sid = self.client.stream_sid
        return new.sid

    def _on_status(self, client, event: str, error: str | None) -> None:
        stream = self.stream
        if event == "stream-started" and stream.sid != client.stream_sid:
            stream.sid = client.stream_sid  # a restart reports before restart() returns
        params = callbacks.stream_event(stream, event, self.sim.now(), error)
        params["StreamSid"] = client.stream_sid
        self.sim.sender.post(stream.status_callback, stream.status_callback_method, params)
