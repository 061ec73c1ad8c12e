"""The /sim JSON control API: script phones, trigger inbound calls, inject stream faults."""
from __future__ import annotations

import base64
import binascii
import os

from flask import Blueprint, Response, current_app, jsonify, request

from .store import Call

bp = Blueprint("sim_control", __name__, url_prefix="/sim")
FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")


class ControlError(Exception):
    """A 4xx answer from the control API."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def sim():
    """The Simulator bound to this app."""
    return current_app.extensions["twilio_sim"]


def body() -> dict:
    """The JSON body (empty dict if none); 400 if it is not an object."""
    data = request.get_json(silent=True) if request.data else {}
    if not isinstance(data, dict):
        raise ControlError(400, "body must be a JSON object")
    return data


def field(data: dict, name: str, kind, default=None, required: bool = False):
    """A typed field of the JSON body."""
    value = data.get(name)
    if value is None:  # absent or JSON null: the default
        value = default
    if value is None and required:
        raise ControlError(400, f"{name} is required")
    if value is not None and not isinstance(value, kind):
        raise ControlError(400, f"{name} has the wrong type")
    return value


def live_call_of(number: str) -> Call | None:
    """The live call a phone is on, if any."""
    phone = sim().phones.get(number)
    for leg in list(sim().legs.values()):
        if getattr(leg.party, "phone", None) is phone and phone is not None:
            return leg.call
    return None


def phone_json(number: str) -> dict:
    """A phone's state."""
    phone = sim().phones[number]
    call = live_call_of(number)
    return {"number": number, "speaking": phone.speaking, "recording": phone.recording,
            "frames_heard": phone.frames_heard, "call_sid": call.sid if call else None,
            # Simulated Unix time of the tick that said the last play's first frame.
            "play_started_at": phone.play_started_at,
            # Simulated Unix time the recording's first frame was heard (frames 20 ms apart).
            "recording_started_at": phone.recording_started_at}


@bp.get("/phones")
def list_phones():
    """Every phone the simulator knows."""
    return jsonify({"phones": [phone_json(n) for n in list(sim().phones)]})


@bp.post("/phones/<path:number>/say")
def phone_say(number):
    """Speak a line of text (espeak-ng, offline)."""
    text = field(body(), "text", str, required=True)
    if not text.strip():
        raise ControlError(400, "text is empty: nothing to say")
    from .phone import speech_or_tone

    seconds = sim().phone(number).play_ulaw(speech_or_tone(text[:2000]))
    return jsonify({"seconds": seconds})


@bp.post("/phones/<path:number>/play")
def phone_play(number):
    """Speak a WAV: {"fixture": name} from twilio_sim/fixtures, or {"wav_base64": ...}."""
    data = body()
    name, b64 = field(data, "fixture", str), field(data, "wav_base64", str)
    try:
        if name is not None:
            path = os.path.join(FIXTURES, os.path.basename(name))
            if not os.path.isfile(path):
                raise ControlError(404, f"no fixture {name!r}")
            seconds = sim().phone(number).play_wav(path)
        elif b64 is not None:
            seconds = sim().phone(number).play_wav(base64.b64decode(b64, validate=True))
        else:
            raise ControlError(400, "give fixture or wav_base64")
    except (ValueError, binascii.Error) as exc:
        raise ControlError(400, f"bad WAV: {exc}") from None
    return jsonify({"seconds": seconds})


@bp.post("/phones/<path:number>/tone")
def phone_tone(number):
    """Play a sine tone: {"freq": Hz, "ms": duration, "dbfs": peak level}."""
    data = body()
    freq = field(data, "freq", (int, float), 1000)
    ms = field(data, "ms", int, 1000)
    dbfs = field(data, "dbfs", (int, float), -12.0)
    if not (20 <= freq <= 3900 and 0 < ms <= 120_000 and -90 <= dbfs <= 0):
        raise ControlError(400, "freq 20..3900, ms 1..120000, dbfs -90..0")
    return jsonify({"seconds": sim().phone(number).play_ulaw(long_tone(float(freq), ms,
                                                                     float(dbfs)))})


def long_tone(freq: float, ms: int, dbfs: float) -> bytes:
    """A tone built from a cached 1 s period: synthesizing minutes of it would stall the tick
    loop (seamless for whole-Hz frequencies, a phase step per second otherwise)."""
    from .audio import tone_ulaw

    whole, rest = divmod(ms, 1000)
    return tone_ulaw(freq, 1000, dbfs) * whole + (tone_ulaw(freq, rest, dbfs) if rest else b"")


@bp.post("/phones/<path:number>/dtmf")
def phone_dtmf(number):
    """Press keys: delivered as `dtmf` on the call's bidirectional streams."""
    digits = field(body(), "digits", str, required=True)
    try:
        keys = sim().phone(number).press(digits[:64])
    except ValueError as exc:
        raise ControlError(400, str(exc)) from None
    call = live_call_of(number)
    sent = 0
    for stream in (call.streams if call else []):
        if stream.bidirectional and stream.status == "in-progress" and stream.client:
            for key in keys:
                stream.client.dtmf(key)
            sent += 1
    return jsonify({"digits": keys, "streams": sent})


@bp.post("/phones/<path:number>/hangup")
def phone_hangup(number):
    """Hang up now, or after {"after": seconds}."""
    after = field(body(), "after", (int, float), 0)
    if after > 0:
        sim().phone(number).hangup_after(float(after))
    else:
        call = live_call_of(number)
        if call is not None:
            sim().hangup_call(call)
    return jsonify(phone_json(number) if number in sim().phones else {"number": number})


@bp.post("/phones/<path:number>/answer")
def phone_answer(number):
    """How the phone answers new calls: {"mode": answer|busy|no-answer|failed, "ring_seconds"}."""
    data = body()
    mode = field(data, "mode", str, "answer")
    ring = field(data, "ring_seconds", (int, float), 0.1)
    if mode not in ("answer", "busy", "no-answer", "failed") or not 0 <= ring <= 600:
        raise ControlError(400, "mode: answer|busy|no-answer|failed, ring_seconds 0..600")
    sim().phone(number)
    sim().answer_modes[number] = (mode, float(ring))
    return jsonify({"number": number, "mode": mode, "ring_seconds": ring})


@bp.post("/phones/<path:number>/recording/<action>")
def phone_recording(number, action):
    """Start or stop recording what the phone hears."""
    phone = sim().phone(number)
    if action == "start":
        phone.start_recording()
    elif action == "stop":
        phone.stop_recording()
    else:
        raise ControlError(404, "use recording/start or recording/stop")
    return jsonify(phone_json(number))


@bp.get("/phones/<path:number>/recording.wav")
def phone_recording_wav(number):
    """The recording as an 8 kHz PCM16 WAV."""
    phone = sim().phones.get(number)
    if phone is None:
        raise ControlError(404, f"no phone {number}")
    return Response(phone.recording_wav_bytes(), mimetype="audio/wav")


def conference_of(call_sid: str) -> str | None:
    """The live conference a call is a member of (phone and app: legs alike), if any."""
    return next((sid for sid, room in list(sim().rooms.items()) if call_sid in room.members),
                None)


@bp.get("/calls")
def list_calls():
    """Every call with its streams."""
    out = []
    for call in list(sim().store.calls.values()):
        out.append({"sid": call.sid, "from": call.from_, "to": call.to, "status": call.status,
                    "direction": call.direction, "conference_sid": conference_of(call.sid),
                    "error": getattr(call.runtime, "error", None),
                    "frames_unstreamed": getattr(call.runtime, "frames_unstreamed", 0),
                    "streams": [stream_json(s) for s in call.streams]})
    return jsonify({"calls": out})


def stream_json(s) -> dict:
    """A stream in /sim/calls, with its media accounting (see MediaStreamClient)."""
    client = getattr(s.client, "client", None)
    counts = {"media_offered": client.media_offered, "media_queued": client.media_queued,
              "media_sent": client.media_sent} if client is not None else {}
    session = client.session if client is not None else None
    if session is not None and session.playout is not None:  # bidirectional: the caller's side
        counts.update(played_ms=session.playout.heard_bytes // 8, clears=session.clears)
    return {"sid": s.sid, "name": s.name, "track": s.track, "status": s.status,
            "bidirectional": s.bidirectional, "error": s.error, **counts}


@bp.post("/calls/inbound")
def inbound_call():
    """A phone calls in: {"from", "to", "url", "method"?}; the sim POSTs the voice URL."""
    data = body()
    url = field(data, "url", str, required=True)
    if not url.startswith(("http://", "https://")):
        raise ControlError(400, "url must be http(s)")
    call = sim().inbound_call(field(data, "from", str, "+15550001000"),
                              field(data, "to", str, "+15550002000"), url,
                              field(data, "method", str, "POST").upper())
    return jsonify({"sid": call.sid, "status": call.status}), 201


@bp.get("/stats")
def stats():
    """Tick-loop health: ticks run, late ticks, skipped ticks, worst lag (simulated s).

    `?reset=1` restarts the worst-lag measurement after reading it.
    """
    ticker, s = sim().ticker, sim()
    out = jsonify({"clock_rate": s.clock.rate, "ticks": s.ticks,
                    "late_ticks": ticker.late_ticks if ticker else 0,
                    "skipped_ticks": ticker.skipped_ticks if ticker else 0,
                    "max_lag_s": ticker.max_lag if ticker else 0.0,
                    "live_calls": len(s.legs), "live_conferences": len(s.rooms),
                    "tick_errors": s.tick_errors})
    if ticker is not None and request.args.get("reset"):
        ticker.max_lag = 0.0
    return out


@bp.get("/callbacks")
def sent_callbacks():
    """The last 1000 status callbacks the simulator sent (URL and params)."""
    return jsonify({"callbacks": list(sim().sender.sent)})


@bp.errorhandler(ControlError)
def _control_error(err):
    return jsonify({"error": err.message}), err.status


def register(app) -> None:
    """Attach the control blueprint (fault routes included)."""
    from . import control_faults  # noqa: F401  (routes register on bp)

    app.register_blueprint(bp)
