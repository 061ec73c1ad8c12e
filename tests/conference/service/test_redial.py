"""An AI that leaves without being asked is re-dialed once per incident, up to a cap."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit
from xml.etree import ElementTree

from support.twilio_requests import participant_event


def taken_out(side, twilio, room, call_sid):
    """What Twilio does when it drops the AI: gone from the room, then participant-leave."""
    side.leave(call_sid)
    return participant_event(twilio, room, "participant-leave", call_sid, "ai")


def joined_ai(api, twilio, fake_twilio, room) -> str:
    for label in ("customer", "agent"):
        participant_event(twilio, room, "participant-join", room["calls"][label], label)
    call_sid = api.put("/conferences/room/ai", {"agent": "default", "mode": "speak"}).json[
        "call_sid"]
    participant_event(twilio, room, "participant-join", call_sid, "ai")
    fake_twilio.take()
    return call_sid


def test_unrequested_leave_redials_the_ai_continuing_the_old_call(api, twilio, fake_twilio,
                                                                   room, fake_side):
    old = joined_ai(api, twilio, fake_twilio, room)
    assert taken_out(fake_side, twilio, room, old).status_code == 204
    (dial,) = fake_twilio.take()
    assert (dial.operation_id, dial.form["Label"]) == ("CreateParticipant", "ai")
    query = parse_qs(urlsplit(dial.form["To"]).query)
    assert query["continues"] == [old] and query["mode"] == ["speak"]
    new = api.get("/conferences/room").json["ai"]["call_sid"]
    r = twilio.post("/twilio/ai/voice", {"CallSid": new, **{k: v[0] for k, v in query.items()}})
    params = {el.get("name"): el.get("value")
              for el in ElementTree.fromstring(r.data).findall("./Connect/Stream/Parameter")}
    assert params["continues"] == old  # the stream learns whose conversation it carries on
    # The same leave delivered again is no new incident.
    participant_event(twilio, room, "participant-leave", old, "ai")
    assert fake_twilio.take() == []
    detail = api.get("/conferences/room").json
    assert detail["ai"]["present"] and detail["ai"]["call_sid"] != old
    assert [e["event"] for e in detail["events"]].count("ai-redialed") == 1


def test_redials_are_capped_per_conference(api, twilio, fake_twilio, room, fake_side):
    call_sid = joined_ai(api, twilio, fake_twilio, room)
    for _ in range(2):
        taken_out(fake_side, twilio, room, call_sid)
        (dial,) = fake_twilio.take()
        call_sid = api.get("/conferences/room").json["ai"]["call_sid"]
        participant_event(twilio, room, "participant-join", call_sid, "ai")
    taken_out(fake_side, twilio, room, call_sid)
    assert fake_twilio.take() == []
    events = [e["event"] for e in api.get("/conferences/room").json["events"]]
    assert "ai-redial-exhausted" in events


def test_requested_removal_is_not_redialed(api, twilio, fake_twilio, room):
    old = joined_ai(api, twilio, fake_twilio, room)
    assert api.delete("/conferences/room/ai").status_code == 200
    fake_twilio.take()
    participant_event(twilio, room, "participant-leave", old, "ai")
    assert fake_twilio.take() == []


def test_a_refused_redial_is_recorded_and_hangs_up_nobody(api, twilio, fake_twilio, room,
                                                           fake_side):
    old = joined_ai(api, twilio, fake_twilio, room)
    fake_twilio.fail_next("CreateParticipant", 21218, "Invalid ApplicationSid", 400)
    assert taken_out(fake_side, twilio, room, old).status_code == 204
    assert [q.operation_id for q in fake_twilio.take()] == ["CreateParticipant"]
    detail = api.get("/conferences/room").json
    assert {p["label"]: p["status"] for p in detail["participants"]} == {
        "customer": "joined", "agent": "joined", "ai": "left"}
    assert detail["ai"]["call_sid"] == old
    assert any(e["event"] == "ai-redial-failed" for e in detail["events"])
