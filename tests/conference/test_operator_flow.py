"""The operator flow, asserted request by request against the spec-checked fake Twilio."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit
from xml.etree import ElementTree

from conference.twilio.security import read_stream_token

CALL_EVENTS = ["initiated", "ringing", "answered", "completed"]
CONF_EVENTS = ["start", "end", "join", "leave", "mute", "hold", "modify"]


def join(twilio, conf_sid, friendly, call_sid, label, seq, coaching="false", side=None):
    """A signed participant-join conference callback (Coaching as Twilio reports it)."""
    if side is not None:
        side.join(call_sid)
    return twilio.post("/twilio/conference-events", {
        "ConferenceSid": conf_sid, "FriendlyName": friendly, "AccountSid": "AC" + "0" * 32,
        "StatusCallbackEvent": "participant-join", "SequenceNumber": str(seq),
        "CallSid": call_sid, "ParticipantLabel": label, "Muted": "false", "Hold": "false",
        "Coaching": coaching, "Timestamp": "Wed, 25 Nov 2026 12:00:00 +0000",
    })


def stream_params(form: dict) -> dict:
    """Parameter{n}.Name/Value pairs of a CreateStream request."""
    return {form[f"Parameter{i}.Name"]: form[f"Parameter{i}.Value"]
            for i in range(1, 100) if f"Parameter{i}.Name" in form}


def test_operator_flow(twilio_app, api, twilio, fake_twilio, tenant, fake_side):
    tid = tenant[0]
    friendly = f"t{tid}-support-1"
    secret = twilio_app.config["SECRET_KEY"]

    # 1. Create a conference with a customer and an agent.
    r = api.post("/conferences", {"name": "support-1", "participants": [
        {"to": "+15551110001", "role": "customer", "label": "customer"},
        {"to": "+15551110002", "role": "agent", "label": "agent"}]})
    assert r.status_code == 201, r.json
    reqs = fake_twilio.take()
    assert [q.operation_id for q in reqs] == ["CreateParticipant", "CreateParticipant"]
    for q, (to, label) in zip(reqs, [("+15551110001", "customer"), ("+15551110002", "agent")],
                              strict=True):
        assert q.path.endswith(f"/Conferences/{friendly}/Participants.json")
        assert (q.form["To"], q.form["Label"], q.form["From"]) == (to, label, "+15550000000")
        assert q.form["Muted"] == "false" and q.form["Beep"] == "true"
        assert "Coaching" not in q.form
        assert q.form["StatusCallback"] == "https://forkline.test/twilio/call-events"
        assert q.params["StatusCallbackEvent"] == CALL_EVENTS
        assert q.form["ConferenceStatusCallback"] == "https://forkline.test/twilio/conference-events"
        assert q.params["ConferenceStatusCallbackEvent"] == CONF_EVENTS
    conf = r.json
    calls = {p["label"]: p["call_sid"] for p in conf["participants"]}
    conf_sid = conf["twilio_sid"]
    assert conf_sid.startswith("CF") and set(calls) == {"customer", "agent"}

    # Twilio reports both joins; each human leg is forked through the Streams resource.
    for seq, label in ((1, "customer"), (2, "agent")):
        r = join(twilio, conf_sid, friendly, calls[label], label, seq, side=fake_side)
        assert r.status_code == 204
    reqs = fake_twilio.take()
    assert [q.operation_id for q in reqs] == ["CreateStream", "CreateStream"]
    for q, label in zip(reqs, ["customer", "agent"], strict=True):
        assert q.path.endswith(f"/Calls/{calls[label]}/Streams.json")
        assert q.form["Url"] == "wss://forkline.test/twilio/fork"
        assert q.form["Track"] == "inbound_track" and q.form["Name"] == f"fork-{label}-1"
        assert q.form["StatusCallback"] == "https://forkline.test/twilio/stream-events"
        params = stream_params(q.form)
        assert {k: params[k] for k in ("conference", "tenant", "label", "role")} == {
            "conference": "support-1", "tenant": str(tid), "label": label, "role": label}
        assert read_stream_token(secret, params["token"], 60) == {
            "conference": "support-1", "tenant": tid, "kind": "fork", "label": label,
            "call": calls[label]}

    # 2. Add the AI in whisper mode, coaching the agent.
    r = api.put("/conferences/support-1/ai", {"agent": "default", "mode": "whisper",
                                              "coach": "agent"})
    assert r.status_code == 201, r.json
    (q,) = fake_twilio.take()
    assert q.operation_id == "CreateParticipant"
    assert q.path.endswith(f"/Conferences/{friendly}/Participants.json")
    assert (q.form["Label"], q.form["Beep"], q.form["Muted"]) == ("ai", "false", "false")
    assert (q.form["Coaching"], q.form["CallSidToCoach"]) == ("true", calls["agent"])
    to = urlsplit(q.form["To"])
    assert to.scheme == "app" and to.path == twilio_app.config["TWILIO_TWIML_APP_SID"]
    custom = {k: v[0] for k, v in parse_qs(to.query).items()}
    assert (custom["conference"], custom["mode"], custom["agent"]) == ("support-1", "whisper",
                                                                      "default")
    ai_call = r.json["call_sid"]

    # The TwiML App's Voice URL answers <Connect><Stream> with the context as <Parameter>s.
    r = twilio.post("/twilio/ai/voice", {"CallSid": ai_call, "AccountSid": "AC" + "0" * 32,
                                         "From": "+15550000000", "To": q.form["To"],
                                         **custom})
    assert r.status_code == 200 and r.mimetype == "text/xml"
    stream = ElementTree.fromstring(r.data).find("./Connect/Stream")
    assert stream.get("url") == "wss://forkline.test/twilio/ai-stream"
    assert "?" not in stream.get("url")
    params = {p.get("name"): p.get("value") for p in stream.findall("Parameter")}
    assert {k: params[k] for k in ("conference", "tenant", "agent", "mode", "coach")} == {
        "conference": "support-1", "tenant": str(tid), "agent": "default", "mode": "whisper",
        "coach": "agent"}
    assert read_stream_token(secret, params["token"], 60)["kind"] == "ai"
    assert join(twilio, conf_sid, friendly, ai_call, "ai", 3, "true", fake_side).status_code == 204
    assert fake_twilio.take() == []  # the AI is never forked

    # 3. A supervisor joins in listen mode.
    r = api.post("/conferences/support-1/supervisors", {"to": "+15551110003", "mode": "listen"})
    assert r.status_code == 201, r.json
    sup_label, sup_call = r.json["label"], r.json["call_sid"]
    assert sup_label == "supervisor-1"
    (q,) = fake_twilio.take()
    assert q.operation_id == "CreateParticipant"
    assert (q.form["Label"], q.form["Muted"], q.form["Beep"]) == (sup_label, "true", "false")
    assert "Coaching" not in q.form
    r = join(twilio, conf_sid, friendly, sup_call, sup_label, 4, side=fake_side)
    assert r.status_code == 204
    assert fake_twilio.take() == []  # nor is a supervisor

    # 4. The supervisor barges in.
    r = api.patch(f"/conferences/support-1/supervisors/{sup_label}", {"mode": "barge"})
    assert r.status_code == 200 and r.json["mode"] == "barge" and not r.json["muted"]
    (q,) = fake_twilio.take()
    assert q.operation_id == "UpdateParticipant" and q.method == "POST"
    assert q.path.endswith(f"/Conferences/{conf_sid}/Participants/{sup_call}.json")
    assert q.form == {"Muted": "false", "Coaching": "false"}

    # 5. The AI switches to speak.
    r = api.put("/conferences/support-1/ai", {"agent": "default", "mode": "speak"})
    assert r.status_code == 200 and r.json["mode"] == "speak" and r.json["coach"] is None
    (q,) = fake_twilio.take()
    assert q.operation_id == "UpdateParticipant"
    assert q.path.endswith(f"/Conferences/{conf_sid}/Participants/{ai_call}.json")
    assert q.form == {"Muted": "false", "Coaching": "false"}

    # 6. The AI is removed.
    r = api.delete("/conferences/support-1/ai")
    assert r.status_code == 200 and r.json["status"] == "left"
    (q,) = fake_twilio.take()
    assert q.operation_id == "DeleteParticipant" and q.method == "DELETE"
    assert q.path.endswith(f"/Conferences/{conf_sid}/Participants/{ai_call}.json")

    # 7. The conference ends.
    r = api.post("/conferences/support-1/end")
    assert r.status_code == 200 and r.json["status"] == "completed"
    (q,) = fake_twilio.take()
    assert q.operation_id == "UpdateConference"
    assert q.path.endswith(f"/Conferences/{conf_sid}.json") and q.form == {"Status": "completed"}

    detail = api.get("/conferences/support-1").json
    assert detail["status"] == "completed" and detail["ended_at"]
    assert {p["label"]: p["status"] for p in detail["participants"]} == {
        "customer": "left", "agent": "left", "ai": "left", sup_label: "left"}
    assert [s["kind"] for s in detail["streams"]] == ["fork", "fork"]
    assert detail["ai"]["present"] is False
