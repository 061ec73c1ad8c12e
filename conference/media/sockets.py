"""Media Stream sockets: signed upgrades only, one read loop per socket, legs do the rest."""
from __future__ import annotations

import contextlib
import socket
import threading
from functools import partial

from flask import Blueprint, Flask, current_app
from flask_sock import Sock
from simple_websocket import ConnectionClosed

from conference.logs import Sampler, get_logger, monotonic_ms
from conference.media import cpustats, metrics
from conference.media.ai_cap import make_gate
from conference.media.ai_leg import AiLeg
from conference.media.codec import Dtmf, Malformed, Mark, Media, Start, Stop, parse
from conference.media.fastws import FastSocket, HandOffThread
from conference.media.forkleg import ForkLeg
from conference.media.loops import run_apart
from conference.media.loopstall import start_if_gevent
from conference.media.registry import MediaPlane, get_plane
from conference.media.start_guard import StartDeadline
from conference.media.stream_state import Rejected, StreamState
from conference.media.supervisor_leg import SupervisorLeg
from conference.twilio.security import (
    check_twilio_signature,
    read_stream_token,
    stream_token_keys,
)

bp = Blueprint("media_sockets", __name__, url_prefix="/twilio")
sock = Sock()
log = get_logger("media.sockets")
sampler = Sampler(200)
LEGS: dict[str, type[ForkLeg] | type[AiLeg] | type[SupervisorLeg]] = {
    "fork": ForkLeg, "ai": AiLeg, "supervisor": SupervisorLeg}
POLICY_VIOLATION = 1008


@bp.before_request
def _signed_upgrade_only() -> None:
    # Refuse before the 101: an unsigned upgrade gets a plain 403, never a socket.
    check_twilio_signature()


@sock.route("/fork", bp=bp)
def fork_socket(ws) -> None:
    """Unidirectional forks of human legs."""
    serve(ws, "fork")


@sock.route("/ai-stream", bp=bp)
def ai_socket(ws) -> None:
    """The AI leg's bidirectional stream."""
    serve(ws, "ai")


@sock.route("/supervisor-stream", bp=bp)
def supervisor_socket(ws) -> None:
    """A browser supervisor's bidirectional stream (relayed to its console socket)."""
    serve(ws, "supervisor")


def serve(ws, kind: str) -> None:
    """Read loop: parse, check state, dispatch; bad messages are counted and skipped."""
    plane = get_plane(current_app._get_current_object())
    plane.ensure_maintenance()
    if ws.thread is not None and not ws.thread.is_alive() and hasattr(ws, "sock"):
        ws = FastSocket(ws)  # the upgrade is done; the fast transport reads from here on
    state, leg, stopped = StreamState(), None, False
    # FastSocket never closes its socket, so it can end the TCP connection itself; others need a
    # descriptor of their own for that (a dup costs a socket object and two watchers per call).
    tcp = None if isinstance(ws, FastSocket) else _dup(ws)
    waiting = StartDeadline(plane.config["START_TIMEOUT_S"])
    try:
        while True:
            raw = ws.receive() if leg is not None else waiting.receive(ws)
            if raw is None:
                hang_up(ws, POLICY_VIOLATION, "no valid start in time")
                return
            msg = state.receive(parse(raw))
            cls = type(msg)
            if cls is Media:
                leg.on_media(msg)
            elif cls is Mark:
                leg.on_mark(msg.name, monotonic_ms())
            elif cls is Start:
                # Apart: checking the token and opening the leg run deep, and this greenlet
                # lives as long as the socket (conference/media/loops.py).
                leg = run_apart(partial(_open_leg, ws, plane, msg, kind))
                waiting.done()
                if leg is None:
                    return
            elif cls is Stop:
                stopped = True
                return
            elif cls is Dtmf:
                leg.on_dtmf(msg.digit)
            elif cls is Malformed or cls is Rejected:
                _skipped(msg, state)
    except ConnectionClosed:
        pass
    finally:
        waiting.done()
        if leg is not None and kind == "ai" and leg.info.get("cap") is not None:
            get_ai_gate(plane).release(leg.info["tenant"], leg.start.call_sid)
        if leg is not None:
            metrics.GAPS.inc(state.gaps)
            leg.close(stopped, monotonic_ms())
        hang_up(ws)
        _end_tcp(ws.sock if isinstance(ws, FastSocket) else tcp)
        if tcp is not None:
            tcp.close()


def _end_tcp(sock) -> None:
    """End the TCP connection: gevent's WSGI server keeps its own descriptor open."""
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _dup(ws):
    with contextlib.suppress(OSError, AttributeError):
        return ws.sock.dup()
    return None


def hang_up(ws, reason: int | None = None, message: str | None = None) -> None:
    """Send a close frame (if still open) and wait briefly for the peer's reply."""
    with contextlib.suppress(Exception):
        ws.close(reason=reason, message=message)
    thread = getattr(ws, "thread", None)
    if thread is not None and thread is not threading.current_thread():
        thread.join(timeout=2)
    if isinstance(ws, FastSocket):
        ws.wait_closed(1.0)


def _skipped(msg: Malformed | Rejected, state: StreamState) -> None:
    if msg.reason == "late_sequence":
        metrics.LATE.inc()
    metrics.MALFORMED.labels(reason=msg.reason).inc()
    if sampler.should_log(msg.reason):
        log.warning("media message skipped: %s", msg.reason,
                    extra={"event": msg.reason, "stream_sid": state.stream_sid})


def stream_info(plane: MediaPlane, start: Start, kind: str) -> dict | None:
    """Verified context of a stream from its signed token, or None to refuse it."""
    cfg, params = plane.config, start.params
    token = params.get("token", "")
    claims = read_stream_token(stream_token_keys(cfg), token, cfg["STREAM_TOKEN_TTL_S"])
    if claims is None and kind == "ai" and plane.replay.knows(start.call_sid):
        # A reconnect of a live call (on any worker) re-sends its original, maybe expired,
        # token: accepted for STREAM_RECONNECT_MAX_AGE_S, and only for that same call.
        max_age = cfg["STREAM_RECONNECT_MAX_AGE_S"]
        claims = read_stream_token(stream_token_keys(cfg), token, max_age)
    if not isinstance(claims, dict) or claims.get("kind") != kind:
        return None
    if claims.get("call") != start.call_sid:
        return None  # a token opens only the stream of the call it was minted for
    if params.get("conference", claims.get("conference")) != claims.get("conference"):
        return None
    # `continues` (a re-dialed AI) may only adopt a parked call of the token's own conference.
    info = {key: params.get(key) for key in ("agent", "mode", "coach", "role", "continues")}
    info.update(conference=claims.get("conference"), tenant=str(claims.get("tenant")),
                label=claims.get("label"), cap=claims.get("cap"), user=claims.get("user"),
                stream_name=(params.get("stream") or "")[:64] or None)
    return info


def _within_ai_cap(ws, plane: MediaPlane, start: Start, info: dict) -> bool:
    """Claim a live AI session for the tenant; over its cap, close and record (False)."""
    cap = info.get("cap")
    if cap is None or get_ai_gate(plane).acquire(info["tenant"], start.call_sid, int(cap)):
        return True
    metrics.AI_CAP_REFUSED.inc()
    log.warning("AI stream refused: tenant AI cap reached", extra={
        "event": "ai_cap", "tenant": info["tenant"], "call_sid": start.call_sid})
    hang_up(ws, POLICY_VIOLATION, "tenant AI session cap reached")
    return False


def _open_leg(ws, plane: MediaPlane, start: Start, kind: str):
    info = stream_info(plane, start, kind)
    if info is None:
        metrics.MALFORMED.labels(reason="bad_token").inc()
        log.warning("stream refused: bad token", extra={
            "event": "bad_token", "call_sid": start.call_sid, "stream_sid": start.stream_sid})
        hang_up(ws, POLICY_VIOLATION, "invalid stream token")
        return None
    if kind == "ai" and not _within_ai_cap(ws, plane, start, info):
        return None
    leg = LEGS[kind](ws, plane, start, info)
    leg.attach(monotonic_ms())
    return leg


def get_ai_gate(plane: MediaPlane):
    """This worker's AI-cap gate (made on first use)."""
    gate = plane.app.extensions.get("media_ai_gate")
    if gate is None:
        gate = plane.app.extensions["media_ai_gate"] = make_gate(plane.config)
    return gate


def init_app(app: Flask) -> None:
    """Register the socket routes, /metrics and the per-worker media plane."""
    # Twilio frames are small; the codec caps them at 16 KB, this only bounds memory.
    # HandOffThread leaves the media sockets to FastSocket (other routes are unaffected).
    app.config.setdefault("SOCK_SERVER_OPTIONS", {"max_message_size": 1 << 20,
                                                  "thread_class": HandOffThread})
    app.register_blueprint(bp)
    app.register_blueprint(metrics.bp)
    get_plane(app)
    cpustats.register()  # forkline_cpu_pool_* and forkline_threads_active on /metrics
    cpustats.configure_pool(int(app.config["CPU_POOL_WORKERS"]),
                            int(app.config["CPU_POOL_MAX_PENDING"]),
                            int(app.config["CPU_POOL_NICE"]), str(app.config["CPU_POOL_POLICY"]))
    monitor = start_if_gevent(app.extensions)  # forkline_loop_stall_seconds
    serving = monitor is not None
    if serving and cpustats.publish not in monitor.on_window:
        monitor.on_window.append(cpustats.publish)  # forkline_cpu_pool_*, once a second
    if serving and not app.testing:
        cpustats.warm(app.extensions)  # its decode process starts now, not on the first call
