"""A socket must send a valid `start` within START_TIMEOUT_S, or it is closed.

Without this, sockets that upgrade and then stay silent hold a gevent connection slot each until
the worker's worker_connections are used up and /healthz stops answering.
"""
from __future__ import annotations

from gevent import Timeout

from conference.logs import monotonic_ms
from conference.media import metrics


class StartDeadline:
    """The deadline of one socket's `start`; receive() before it, or None once it passed."""

    def __init__(self, seconds: float) -> None:
        self.deadline_ms = monotonic_ms() + seconds * 1000.0
        metrics.AWAITING_START.inc()
        self.pending = True

    def receive(self, ws):
        """The next message, or None when the deadline passes first."""
        left_s = (self.deadline_ms - monotonic_ms()) / 1000.0
        if left_s <= 0:
            return self.expired()
        # The timeout can only fire while the reader is parked waiting for bytes, never while a
        # frame is half parsed: gevent switches greenlets only at blocking points.
        with Timeout(left_s, False):
            return ws.receive()
        return self.expired()

    def expired(self) -> None:
        """Count the timeout; the caller closes the socket."""
        metrics.START_TIMEOUTS.inc()
        return None

    def done(self) -> None:
        """The socket started (or ended): it no longer waits for `start`."""
        if self.pending:
            self.pending = False
            metrics.AWAITING_START.dec()
