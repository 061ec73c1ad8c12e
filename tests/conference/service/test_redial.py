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


def _voice_params(twilio, call_sid: str, query: dict) -> dict:
    r = twilio.post("/twilio/ai/voice", {"CallSid": call_sid, **query})
    assert r.status_code == 200, r.data
    return {el.get("name"): el.get("value")
            for el in ElementTree.fromstring(r.data).findall("./Connect/Stream/Parameter")}


def _ai_dial_query(fake_twilio) -> dict:
    dial = [q for q in fake_twilio.take() if q.form.get("Label") == "ai"][-1]  # the newest
    return {k: v[0] for k, v in parse_qs(urlsplit(dial.form["To"]).query).items()}


def test_a_forged_continues_attaches_to_no_other_conversation(api, twilio, fake_twilio, room,
                                                               fake_side, twilio_app,
                                                               new_tenant, tenant):
    """`continues` rides in Twilio's signed Voice request, but only an AI call of the same
    tenant's same conference is passed on to the stream (whose media plane checks it again)."""
    # Another tenant's AI, taken out by Twilio: its CallSid is what a forger would name.
    other_id, other_key = new_tenant("globex")
    client, auth = twilio_app.test_client(), {"Authorization": f"Bearer {other_key}"}
    r = client.post("/api/conferences", headers=auth, json={"name": "room", "participants": [
        {"to": "+15552220001", "role": "customer", "label": "customer"}]})
    assert r.status_code == 201, r.json
    theirs = {"sid": r.json["twilio_sid"], "friendly": f"t{other_id}-room",
              "calls": {p["label"]: p["call_sid"] for p in r.json["participants"]}}
    participant_event(twilio, theirs, "participant-join", theirs["calls"]["customer"],
                      "customer")
    r = client.put("/api/conferences/room/ai", headers=auth,
                   json={"agent": "default", "mode": "speak"})
    their_ai = r.json["call_sid"]
    participant_event(twilio, theirs, "participant-join", their_ai, "ai")
    taken_out(fake_side, twilio, theirs, their_ai)
    their_query = _ai_dial_query(fake_twilio)
    assert their_query["continues"] == their_ai  # their own re-dial does continue it

    ours = joined_ai_query(api, twilio, fake_twilio, room)
    ai_sid = api.get("/conferences/room").json["ai"]["call_sid"]
    for forged in (their_ai, room["calls"]["customer"], "CA" + "f" * 32, ai_sid):
        params = _voice_params(twilio, ai_sid, ours | {"continues": forged})
        assert "continues" not in params, forged
        assert params["tenant"] == str(tenant[0])
    # The other tenant's legitimate re-dial still continues its own call.
    their_new = client.get("/api/conferences/room", headers=auth).json["ai"]["call_sid"]
    assert _voice_params(twilio, their_new, their_query)["continues"] == their_ai


def joined_ai_query(api, twilio, fake_twilio, room) -> dict:
    """The AI dialed into `room` (humans joined): the query of its `app:` address."""
    for label in ("customer", "agent"):
        participant_event(twilio, room, "participant-join", room["calls"][label], label)
    fake_twilio.take()
    assert api.put("/conferences/room/ai", {"agent": "default", "mode": "speak"}).status_code \
        == 201
    return _ai_dial_query(fake_twilio)

