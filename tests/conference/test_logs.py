"""Orchestrator logs are JSON lines that carry conference, call and stream ids, never secrets."""
from __future__ import annotations

import json
import logging

from conference.logs import JsonFormatter


def test_actions_and_callbacks_log_their_ids(twilio_app, api, twilio, fake_twilio, tenant,
                                            caplog):
    caplog.set_level(logging.INFO, logger="forkline")
    r = api.post("/conferences", {"name": "room", "participants": [
        {"to": "+15551110002", "role": "agent", "label": "agent"}]})
    call_sid = r.json["participants"][0]["call_sid"]
    twilio.post("/twilio/conference-events", {
        "ConferenceSid": r.json["twilio_sid"], "FriendlyName": f"t{tenant[0]}-room",
        "StatusCallbackEvent": "participant-join", "SequenceNumber": "1", "CallSid": call_sid,
        "ParticipantLabel": "agent"})
    lines = [json.loads(JsonFormatter().format(rec)) for rec in caplog.records
             if rec.name.startswith("forkline")]
    dialed = next(line for line in lines if line["msg"] == "dialed")
    assert (dialed["conference"], dialed["call_sid"], dialed["label"]) == ("room", call_sid,
                                                                          "agent")
    fork = next(line for line in lines if line["msg"] == "fork started")
    assert fork["stream_sid"].startswith("MZ") and fork["call_sid"] == call_sid
    callback = next(line for line in lines if line["msg"].startswith("callback"))
    assert callback["event"] == "participant-join" and callback["call_sid"] == call_sid
    text = "\n".join(json.dumps(line) for line in lines)
    assert api.key not in text and twilio_app.config["TWILIO_AUTH_TOKEN"] not in text
