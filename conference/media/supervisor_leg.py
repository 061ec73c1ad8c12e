"""Socket side of a browser supervisor's `<Connect><Stream>`: Twilio's frames to the browser's
relay, the browser's microphone back to Twilio.

One sender per socket: a pacing thread (a greenlet under gevent) is this socket's only writer
of media; the read loop only reads (FastSocket answers pings under its own frame lock).
"""
from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable

from conference.logs import get_logger, monotonic_ms
from conference.media import metrics
from conference.media.codec import Encoder, Media, Start
from conference.media.registry import MediaPlane
from conference.media.supervise import FRAME_MS, find_relay
from conference.media.supervise_remote import TwilioEnd, remote_end, supervisor_key

log = get_logger("media.supervisor_leg")
POLICY_VIOLATION = 1008


class SupervisorLeg:
    """One `/twilio/supervisor-stream` socket, tied to the browser relay of its label."""

    def __init__(self, ws, plane: MediaPlane, start: Start, info: dict) -> None:
        self.ws, self.plane, self.start = ws, plane, start
        self.info = dict(info, kind="supervisor", call_sid=start.call_sid,
                         stream_sid=start.stream_sid)
        self.enc = Encoder(start.stream_sid)
        self.relay = find_relay(plane.app, info.get("tenant"), info.get("conference"),
                                info.get("label"))
        self.remote: TwilioEnd | None = None  # the browser's page is on another worker
        self.deliver: Callable[[bytes], None] | None = None
        self.open = True
        self.frames_in = self.frames_out = 0
        self._sender = threading.Thread(target=self._send_loop, name="supervisor-sender",
                                        daemon=True)

    def attach(self, now_ms: float) -> None:
        """Start relaying, here or through Redis; without a browser (it left) hang up."""
        if self.relay is None:
            self.remote = remote_end(self.plane, supervisor_key(
                self.info.get("tenant"), self.info.get("conference"), self.info.get("label")),
                self.start.call_sid)
            self.relay = self.remote.relay if self.remote is not None else None
        if self.relay is None:
            log.info("supervisor stream without a browser; closing", extra={
                "event": "supervisor_orphan", "call_sid": self.start.call_sid})
            self.open = False
            with contextlib.suppress(Exception):
                self.ws.close(reason=POLICY_VIOLATION, message="no browser for this supervisor")
            return
        metrics.STREAMS.labels(kind="supervisor").inc()
        if self.remote is not None:
            self.remote.start()
            self.deliver = self.remote.from_twilio
        else:
            self.relay.twilio_started(self.start.call_sid)
            self.deliver = self.relay.from_twilio
        self._sender.start()

    def on_media(self, msg: Media) -> None:
        """Hot path: what the supervisor hears goes to the browser's queue."""
        if self.deliver is not None:
            self.deliver(msg.payload)
            self.frames_in += 1

    def on_mark(self, name: str, now_ms: float) -> None:
        """No marks are sent on this stream; an echo is ignored."""

    def on_dtmf(self, digit: str) -> None:
        """Key presses cannot come from a browser leg; ignored."""

    def _send_loop(self) -> None:
        relay, ws, enc = self.relay, self.ws, self.enc
        while self.open and not relay.ended:
            for frame in relay.due(monotonic_ms()):
                try:
                    ws.send(enc.media(frame))
                except Exception:
                    self.open = False  # the socket is gone; the read loop notices and closes
                    return
                self.frames_out += 1
            time.sleep(FRAME_MS / 1000.0)
        if relay.ended and self.open:
            # The browser left: end the stream, so the call ends (no <Connect action>).
            with contextlib.suppress(Exception):
                self.ws.close(reason=1000, message="supervisor left")

    def close(self, stopped: bool, now_ms: float) -> None:
        """The read loop ended: tell the browser, stop the sender."""
        self.open = False
        if self.relay is None:
            return
        metrics.STREAMS.labels(kind="supervisor").dec()
        metrics.FRAMES_IN.labels(kind="supervisor").inc(self.frames_in)
        metrics.FRAMES_OUT.inc(self.frames_out)
        if self.remote is not None:
            self.remote.stop()
            metrics.SUPERVISOR_DROPPED.labels(direction="to_twilio").inc(
                self.relay.dropped_to_twilio)
        self.relay.twilio_ended()
