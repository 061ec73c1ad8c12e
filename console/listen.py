"""Browser live-listen: WebSocket /console/listen/<conference>?leg=mix|<label> carrying the
media plane's taps (8 kHz mu-law, one binary message per chunk) to a signed-in supervisor.

The tap callback runs on the audio path: it only appends to a bounded queue that drops the
oldest audio, so a browser that stops reading never slows the call. Audio reaches listeners on
the worker that owns the legs (no cross-worker carriage yet).
"""
from __future__ import annotations

import threading
from collections import deque
from urllib.parse import urlsplit

from flask import abort, current_app, g, request
from flask_login import current_user
from flask_sock import Sock
from simple_websocket import ConnectionClosed

from conference import service
from conference.media import facade, registry
from console.blueprint import bp
from models import get_session

sock = Sock()
QUEUE_CHUNKS = 25  # ~0.5 s of 20 ms chunks; more than that is late audio, dropped oldest first
IDLE_CHECK_S = 1.0


class ListenQueue:
    """Bounded, drop-oldest hand-off from the audio path to one listener's sender."""

    def __init__(self, limit: int = QUEUE_CHUNKS) -> None:
        self.chunks: deque[bytes] = deque(maxlen=limit)
        self.ready = threading.Event()
        self.dropped = 0

    def __call__(self, ulaw: bytes) -> None:
        """Tap callback: never blocks."""
        if len(self.chunks) == self.chunks.maxlen:
            self.dropped += 1
        self.chunks.append(ulaw)
        self.ready.set()

    def take(self, timeout: float) -> list[bytes]:
        """Everything queued, waiting up to `timeout` for the first chunk."""
        if not self.ready.wait(timeout):
            return []
        self.ready.clear()
        out = []
        while self.chunks:
            out.append(self.chunks.popleft())
        return out


def tap_key(conf, leg: str) -> str:
    """The tap of the conference mix, or of one present human leg (404 otherwise)."""
    if leg == "mix":
        return registry.mix_key(conf.tenant_id, conf.name)
    p = service.find_participant(conf, leg)
    if not p.is_present or not p.call_sid or p.role not in ("customer", "agent"):
        abort(404)
    return p.call_sid


def _same_origin() -> bool:
    # Browsers send Origin on WebSocket handshakes; a cross-site page must not ride the cookie.
    origin = urlsplit(request.headers.get("Origin", ""))
    return origin.netloc == request.host


def live_socket_conference(endpoint: str):
    """The signed-in user's live conference for a console socket upgrade (None: not ours).

    Every refusal happens here, before flask-sock answers the upgrade with a 101.
    """
    if request.endpoint != endpoint or not current_user.is_authenticated:
        return None
    if not _same_origin():
        abort(403, "cross-origin WebSocket refused")
    conf = service.get_conference(current_user.tenant_id, request.view_args["name"])
    if not conf.is_active:
        abort(404, f"conference {conf.name!r} has ended")
    return conf


@bp.before_request
def _listen_checks():
    conf = live_socket_conference("console.listen")
    if conf is None:
        return
    g.listen_key = tap_key(conf, request.args.get("leg", "mix"))
    get_session().close()  # the socket lives long; hold no connection while it does


@sock.route("/listen/<name>", bp=bp)
def listen(ws, name: str) -> None:
    """Send the tap's audio until the browser goes away."""
    queue = ListenQueue()
    unsubscribe = facade.listen(current_app._get_current_object(), g.listen_key, queue)
    try:
        while ws.connected:
            for chunk in queue.take(IDLE_CHECK_S):
                ws.send(chunk)
    except ConnectionClosed:
        pass
    finally:
        unsubscribe()
