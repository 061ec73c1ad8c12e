"""A whisper whose coached leg has not joined is dialed muted and switched on its join.

Twilio refuses CallSidToCoach for a call not connected to the conference (errors/13240).
"""
from __future__ import annotations

from support.twilio_requests import participant_event

JOIN, LEAVE = "participant-join", "participant-leave"


def conf_event(twilio, room, event, call_sid, label, side=None, coaching="false"):
    if side is not None:  # tell the strict fake first, as Twilio knows before it calls back
        (side.join if event == JOIN else side.leave)(call_sid)
    return participant_event(twilio, room, event, call_sid, label, coaching)


def pending_room(api, fake_twilio, tenant):
    r = api.post("/conferences", {
        "name": "room", "participants": [
            {"to": "+15551110001", "role": "customer", "label": "customer"},
            {"to": "+15551110002", "role": "agent", "label": "agent"}],
        "ai": {"agent": "default", "mode": "whisper", "coach": "agent"}})
    assert r.status_code == 201, r.json
    ai_dial = [q for q in fake_twilio.take() if q.form.get("Label") == "ai"][0]
    calls = {p["label"]: p["call_sid"] for p in r.json["participants"]}
    room = {"sid": r.json["twilio_sid"], "friendly": f"t{tenant[0]}-room", "calls": calls}
    return r.json, ai_dial, room


def ai_row(api) -> dict:
    return next(p for p in api.get("/conferences/room").json["participants"]
                if p["label"] == "ai")


def test_ai_whisper_at_creation_waits_muted_for_the_agent(api, twilio, fake_twilio, tenant,
                                                          fake_side):
    body, ai_dial, room = pending_room(api, fake_twilio, tenant)
    calls = room["calls"]
    assert ai_dial.form["Muted"] == "true" and "CallSidToCoach" not in ai_dial.form
    assert "Coaching" not in ai_dial.form or ai_dial.form["Coaching"] == "false"
    assert (body["ai"]["mode"], body["ai"]["pending_coach"]) == ("whisper", True)

    conf_event(twilio, room, JOIN, calls["ai"], "ai", fake_side)
    conf_event(twilio, room, JOIN, calls["customer"], "customer", fake_side)
    assert [q.operation_id for q in fake_twilio.take()] == ["CreateStream"]  # no coach yet
    conf_event(twilio, room, JOIN, calls["agent"], "agent", fake_side)
    update = [q for q in fake_twilio.take() if q.operation_id == "UpdateParticipant"]
    assert [q.form for q in update] == [{"Muted": "false", "Coaching": "true",
                                         "CallSidToCoach": calls["agent"]}]
    assert update[0].path.endswith(f"/Participants/{room['calls']['ai']}.json")
    ai = ai_row(api)
    assert (ai["mode"], ai["coaching"], ai["muted"], ai["pending_coach"]) == (
        "whisper", True, False, False)

    # The agent leaves: the AI goes back to muted and pending, never open to the customer.
    conf_event(twilio, room, LEAVE, calls["agent"], "agent", fake_side)
    (pause,) = [q for q in fake_twilio.take() if q.operation_id == "UpdateParticipant"]
    assert pause.form == {"Muted": "true", "Coaching": "false"}
    ai = ai_row(api)
    assert (ai["muted"], ai["pending_coach"]) == (True, True)


def test_refused_coach_is_an_event_and_hangs_up_nobody(api, twilio, fake_twilio, tenant,
                                                       fake_side):
    _, _, room = pending_room(api, fake_twilio, tenant)
    calls = room["calls"]
    conf_event(twilio, room, JOIN, calls["ai"], "ai", fake_side)
    fake_twilio.fail_next("UpdateParticipant", 13240,
                          "CallSidToCoach is not connected to the conference yet", 400)
    r = conf_event(twilio, room, JOIN, calls["agent"], "agent", fake_side)
    assert r.status_code == 204
    ops = [q.operation_id for q in fake_twilio.take()]
    assert "DeleteParticipant" not in ops and "UpdateCall" not in ops
    detail = api.get("/conferences/room").json
    assert {p["label"]: p["status"] for p in detail["participants"]} == {
        "customer": "queued", "agent": "joined", "ai": "joined"}
    ai = ai_row(api)
    assert (ai["muted"], ai["coaching"], ai["pending_coach"]) == (True, False, True)
    refused = [e for e in detail["events"] if e["event"] == "coach-refused"]
    assert refused and refused[0]["payload"]["code"] == 13240


def test_supervisor_whisper_waits_for_its_target(api, twilio, fake_twilio, room, fake_side):
    r = api.post("/conferences/room/supervisors",
                 {"to": "+15551110009", "mode": "whisper", "coach": "agent"})
    assert r.status_code == 201 and r.json["pending_coach"] is True
    (dial,) = fake_twilio.take()
    assert dial.form["Muted"] == "true" and "CallSidToCoach" not in dial.form
    sup, calls = r.json["call_sid"], room["calls"]
    conf_event(twilio, room, JOIN, sup, r.json["label"], fake_side)
    conf_event(twilio, room, JOIN, calls["agent"], "agent", fake_side)
    update = [q for q in fake_twilio.take() if q.operation_id == "UpdateParticipant"]
    assert update[0].form["CallSidToCoach"] == calls["agent"]


def test_whisper_to_a_label_that_is_not_there_is_422(api, fake_twilio, room):
    r = api.post("/conferences/room/supervisors",
                 {"to": "+15551110009", "mode": "whisper", "coach": "nobody"})
    assert r.status_code == 422 and "coach" in r.json["error"]["fields"]
    assert fake_twilio.take() == []


def test_ai_and_supervisors_wait_in_silence_humans_hear_hold_music(api, fake_twilio, tenant):
    """WaitUrl="" (conference-participant-resource): no hold music for the AI's ears."""
    _, ai_dial, _ = pending_room(api, fake_twilio, tenant)
    api.post("/conferences/room/supervisors", {"to": "+15551110009", "mode": "listen"})
    (sup_dial,) = fake_twilio.take()
    assert ai_dial.form["WaitUrl"] == "" and sup_dial.form["WaitUrl"] == ""
    api.post("/conferences/room/participants",
             {"to": "+15551110003", "role": "agent", "label": "second"})
    (human,) = fake_twilio.take()
    assert "WaitUrl" not in human.form


def test_coach_refused_at_dial_time_dials_muted_instead(api, twilio, fake_twilio, room,
                                                        fake_side):
    """Twilio may still refuse (errors/13240): the whisperer comes in muted, never failed."""
    calls = room["calls"]
    for label in ("customer", "agent"):
        conf_event(twilio, room, JOIN, calls[label], label, fake_side)
    fake_twilio.take()
    fake_twilio.fail_next("CreateParticipant", 13240, "the conference is not in progress", 400)
    r = api.post("/conferences/room/supervisors",
                 {"to": "+15551110009", "mode": "whisper", "coach": "agent"})
    assert r.status_code == 201 and r.json["pending_coach"] is True
    first, second = fake_twilio.take()
    assert first.form["CallSidToCoach"] == calls["agent"]
    assert second.form["Muted"] == "true" and "CallSidToCoach" not in second.form
    events = [e["event"] for e in api.get("/conferences/room").json["events"]]
    assert "coach-refused" in events


def test_switch_to_whisper_refused_by_twilio_falls_back_to_pending(api, twilio, fake_twilio,
                                                                   room, fake_side):
    """Our callbacks said the agent joined; Twilio says otherwise (errors/13240): the switch
    is accepted as a pending whisper (muted, waiting for the agent's join), never a 502."""
    calls = room["calls"]
    conf_event(twilio, room, JOIN, calls["customer"], "customer", fake_side)
    # Only Forkline hears of the agent's join: the strict fake still has it ringing.
    conf_event(twilio, room, JOIN, calls["agent"], "agent")
    r = api.put("/conferences/room/ai", {"agent": "default", "mode": "speak"})
    assert r.status_code == 201, r.json
    ai_sid = r.json["call_sid"]
    conf_event(twilio, room, JOIN, ai_sid, "ai", fake_side)
    fake_twilio.take()
    r = api.put("/conferences/room/ai", {"agent": "default", "mode": "whisper", "coach": "agent"})
    assert r.status_code == 200, r.json
    assert (r.json["mode"], r.json["pending_coach"], r.json["muted"]) == ("whisper", True, True)
    refused, fallback = [q for q in fake_twilio.take() if q.operation_id == "UpdateParticipant"]
    assert refused.form["CallSidToCoach"] == calls["agent"]
    assert fallback.form == {"Muted": "true", "Coaching": "false"}
    detail = api.get("/conferences/room").json
    assert [e["payload"]["code"] for e in detail["events"] if e["event"] == "coach-refused"] \
        == [13240]
    assert {p["label"]: p["status"] for p in detail["participants"]}["agent"] == "joined"
    # The agent's next join (it was not really there) makes the AI coach it.
    conf_event(twilio, room, JOIN, calls["agent"], "agent", fake_side)
    (switch,) = [q for q in fake_twilio.take() if q.operation_id == "UpdateParticipant"]
    assert switch.form["CallSidToCoach"] == calls["agent"]
