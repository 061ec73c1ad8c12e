"""Calls and Calls/{CallSid}/Streams endpoints."""
from __future__ import annotations

import re

from flask import jsonify, request

from ..store import Call, Stream
from . import TwilioError, bp, check_url, form_list, not_found, render, sim

PHONE = re.compile(r"^\+?[0-9]{3,15}$")
TRACKS = ("inbound_track", "outbound_track", "both_tracks")


def check_address(value: str | None, code: int, what: str, allow_app: bool = False,
                  allow_username: bool = False) -> str:
    """Validate a To/From: E.164 number, client:, sip: (app:AP… for participants; a bare SIP
    username as From when To is a SIP address)."""
    if not value:
        raise TwilioError(400, code, f"No '{what}' number is specified")
    ok = (PHONE.match(value) or re.match(r"^client:[^\s]+$", value)
          or (allow_username and re.match(r"^[^\s:@]+$", value))
          or re.match(r"^sip:[^\s@]+@[^\s]+$", value)
          or (allow_app and re.match(r"^app:AP[0-9a-fA-F]{32}(\?.*)?$", value)))
    if not ok:
        raise TwilioError(400, 21211 if what == "To" else 21212,
                          f"Invalid '{what}' Phone Number: {value[:60]}")
    return value


def twiml_source() -> tuple[str | None, str | None]:
    """(Url, Twiml) from the form; both together is refused."""
    url, twiml = request.form.get("Url"), request.form.get("Twiml")
    if url is not None and twiml is not None:
        raise TwilioError(400, 20001, "Url and Twiml are mutually exclusive")
    if twiml is not None and len(twiml) > 4000:
        raise TwilioError(400, 20001, "Twiml must be at most 4000 characters")
    return check_url("Url", url), twiml


def get_call(sid: str) -> Call:
    """A call of this account or 20404."""
    call = sim().store.calls.get(sid)
    if call is None:
        raise not_found()
    return call


@bp.post("/Calls.json")
def create_call():
    """CreateCall → 201."""
    form = request.form
    to = check_address(form.get("To"), 21201, "To")
    from_ = check_address(form.get("From"), 21213, "From", allow_username=to.startswith("sip:"))
    url, twiml = twiml_source()
    app_sid = form.get("ApplicationSid")
    if url is None and twiml is None and app_sid is None:
        raise TwilioError(400, 21205, "Url parameter is required")
    if app_sid is not None and app_sid not in sim().store.applications:
        raise TwilioError(400, 21218, f"Invalid ApplicationSid: {app_sid[:40]}")
    call = Call(account_sid=sim().account_sid, to=to, from_=from_, url=url, twiml=twiml,
                method=form.get("Method", "POST").upper(), application_sid=app_sid,
                status_callback=check_url("StatusCallback", form.get("StatusCallback")),
                status_callback_method=form.get("StatusCallbackMethod", "POST").upper(),
                status_callback_events=form_list("StatusCallbackEvent") or ["completed"])
    sim().store.add(call)
    sim().place_call(call)
    return jsonify(render.call(sim().store, call)), 201


@bp.get("/Calls.json")
def list_calls():
    """ListCall → 200 (filters: To, From, Status)."""
    calls = [c for c in sim().store.calls.values()
             if all(request.args.get(k) in (None, v) for k, v in
                    (("To", c.to), ("From", c.from_), ("Status", c.status)))]
    items = [render.call(sim().store, c) for c in reversed(calls)]
    return jsonify(render.page("calls", request.path, items, request.args))


@bp.get("/Calls/<sid>.json")
def fetch_call(sid):
    """FetchCall → 200."""
    return jsonify(render.call(sim().store, get_call(sid)))


@bp.post("/Calls/<sid>.json")
def update_call(sid):
    """UpdateCall: redirect with Url|Twiml, or hang up with Status=completed|canceled."""
    call = get_call(sid)
    url, twiml = twiml_source()
    status = request.form.get("Status")
    if status not in (None, "completed", "canceled"):
        raise TwilioError(400, 20001, f"Invalid Status: {status[:40]}")
    if not call.live:
        raise TwilioError(400, 21220, "Call is not in-progress. Cannot redirect.")
    if status == "completed" or (status == "canceled" and call.status != "in-progress"):
        sim().hangup_call(call, "canceled" if status == "canceled" else "completed")
    elif url is not None or twiml is not None:
        sim().redirect_call(call, url, request.form.get("Method", "POST").upper(), twiml)
    return jsonify(render.call(sim().store, call))


def stream_parameters() -> dict:
    """ParameterN.Name / ParameterN.Value pairs, N in 1..99."""
    params = {}
    for n in range(1, 100):
        name = request.form.get(f"Parameter{n}.Name")
        if name:
            params[name] = request.form.get(f"Parameter{n}.Value", "")
    return params


@bp.post("/Calls/<call_sid>/Streams.json")
def create_stream(call_sid):
    """CreateStream → 200: a unidirectional fork of a live call."""
    call = get_call(call_sid)
    if call.status != "in-progress":
        raise TwilioError(400, 21220, "Call is not in-progress. Cannot start a stream.")
    url = check_url("Url", request.form.get("Url") or "", schemes=("ws", "wss"))
    track = request.form.get("Track", "inbound_track")
    if track not in TRACKS:
        raise TwilioError(400, 20001, f"Invalid Track: {track[:40]}")
    name = request.form.get("Name")
    # Names are unique per call (https://www.twilio.com/docs/voice/api/stream-resource, Name;
    # twiml/stream#name): a name used earlier, live or ended, is refused. The error code is
    # not documented (UNVERIFIED: 20001); lenient "stream-names" refuses only a live one.
    earlier = sim().store.find_stream(call, name) if name else None
    if earlier is not None and (sim().strictness.strict("stream-names")
                                or earlier.status == "in-progress"):
        raise TwilioError(400, 20001, f"A stream named {name[:40]} was already used on this call")
    stream = Stream(call_sid=call.sid, account_sid=call.account_sid, url=url, name=name,
                    track=track, parameters=stream_parameters(),
                    status_callback=check_url("StatusCallback", request.form.get("StatusCallback")),
                    status_callback_method=request.form.get("StatusCallbackMethod", "POST").upper())
    sim().start_stream(call, stream)
    return jsonify(render.stream(sim().store, stream))


@bp.post("/Calls/<call_sid>/Streams/<sid>.json")
def update_stream(call_sid, sid):
    """UpdateStream: Status=stopped, by SID or name."""
    call = get_call(call_sid)
    stream = sim().store.find_stream(call, sid)
    if stream is None or stream.bidirectional:
        raise not_found()
    if request.form.get("Status") != "stopped":
        raise TwilioError(400, 20001, "Status must be 'stopped'")
    sim().stop_stream(stream)
    return jsonify(render.stream(sim().store, stream))
