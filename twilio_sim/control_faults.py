"""Fault injection routes of the /sim control API: what can go wrong between Twilio and an app."""
from __future__ import annotations

from flask import jsonify

from .control import ControlError, body, bp, field, sim


def stream_port(sid: str):
    """The live stream port with this SID."""
    for call in list(sim().store.calls.values()):
        for stream in call.streams:
            if stream.sid == sid and stream.client is not None and stream.status != "stopped":
                return stream.client
    raise ControlError(404, f"no live stream {sid}")


def _ms(data: dict, name: str) -> float:
    value = field(data, name, (int, float), 0)
    if not 0 <= value <= 10_000:
        raise ControlError(400, f"{name} must be 0..10000")
    return float(value)


@bp.post("/streams/<sid>/<fault>")
def stream_fault(sid, fault):
    """Fault injection: kill (the socket is lost: the stream ends, a <Connect> runs its
    action URL; `drop` is the same), delay (to the app: delay_ms/jitter_ms; to the caller's
    ear: to_caller_ms/to_caller_jitter_ms; playout_start_ms)."""
    port = stream_port(sid)
    if fault in ("kill", "drop"):
        port.kill()
        return jsonify({"sid": sid, "killed": True})
    if fault == "delay":
        data = body()
        out = {name: _ms(data, name) for name in ("delay_ms", "jitter_ms", "to_caller_ms",
                                                  "to_caller_jitter_ms", "playout_start_ms")}
        port.set_delay(out["delay_ms"], out["jitter_ms"])
        port.set_delay(out["to_caller_ms"], out["to_caller_jitter_ms"], direction="to_caller")
        port.client.set_playout_start_delay(out["playout_start_ms"])
        return jsonify({"sid": sid, **out})
    raise ControlError(404, f"unknown fault {fault!r}")


@bp.post("/calls/<sid>/fail-streams")
def fail_streams(sid):
    """Fault: the next `count` streams opened on this call fail at connect time with `code`
    (stream-error; a <Connect> then ends and runs its action URL)."""
    data = body()
    code = field(data, "code", int, 31920)
    count = field(data, "count", int, 1)
    call = sim().store.calls.get(sid)
    if call is None or not call.live:
        raise ControlError(404, f"no live call {sid}")
    if not (31900 <= code <= 31999 and 1 <= count <= 100):
        raise ControlError(400, "code 31900..31999, count 1..100")
    call.fail_streams.extend([code] * count)
    return jsonify({"sid": sid, "code": code, "pending": len(call.fail_streams)})


@bp.get("/strictness")
def strictness():
    """Which Twilio rules are enforced (see twilio_sim/strictness.py)."""
    return jsonify(sim().strictness.as_json())
