"""Signed Twilio requests the conference tests send: status callbacks and the AI's dial."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

TS = "Wed, 25 Nov 2026 12:00:00 +0000"


def conf_event(twilio, room, event, seq, label=None, **extra):
    """A conference status callback for `room` (its sid, friendly name and labelled calls)."""
    params = {"ConferenceSid": room["sid"], "FriendlyName": room["friendly"],
              "StatusCallbackEvent": event, "SequenceNumber": str(seq), "Timestamp": TS,
              "AccountSid": "AC" + "0" * 32}
    if label:
        params.update(CallSid=room["calls"][label], ParticipantLabel=label)
    params.update(extra)
    return twilio.post("/twilio/conference-events", params)


_SEQUENCE = iter(range(1, 1_000_000))


def participant_event(twilio, room, event, call_sid, label, coaching="false"):
    """A participant callback for one call of `room`, with the next SequenceNumber."""
    return twilio.post("/twilio/conference-events", {
        "ConferenceSid": room["sid"], "FriendlyName": room["friendly"],
        "StatusCallbackEvent": event, "SequenceNumber": str(next(_SEQUENCE)),
        "CallSid": call_sid, "ParticipantLabel": label,
        "Muted": "true" if label == "ai" else "false", "Hold": "false", "Coaching": coaching})


def stream_event(twilio, call_sid, stream_sid, event, **extra):
    """A Media Stream status callback of a customer's fork."""
    return twilio.post("/twilio/stream-events", {
        "AccountSid": "AC" + "0" * 32, "CallSid": call_sid, "StreamSid": stream_sid,
        "StreamEvent": event, "StreamName": "fork-customer",
        "Timestamp": "2026-11-25T12:00:00Z", **extra})


def ai_to(api, fake_twilio, mode: str = "listen"):
    """Add the AI (in `mode`) to conference `room` of an agent; returns (its CallSid, the custom
    params of its To=app:… address)."""
    api.post("/conferences", {"name": "room", "participants": [
        {"to": "+15551110002", "role": "agent", "label": "agent"}]})
    r = api.put("/conferences/room/ai", {"agent": "default", "mode": mode})
    assert r.status_code == 201, r.json
    to = [q for q in fake_twilio.take() if q.form.get("Label") == "ai"][0].form["To"]
    return r.json["call_sid"], {k: v[0] for k, v in parse_qs(urlsplit(to).query).items()}
