"""When the last customer/agent leaves, Forkline ends the room (tenant end_when_humans_leave)."""
from __future__ import annotations

from support.twilio_requests import participant_event

from models import Tenant, transaction


def with_ai_and_supervisor(api, twilio, fake_twilio, room):
    ai = api.put("/conferences/room/ai", {"agent": "default", "mode": "speak"}).json
    sup = api.post("/conferences/room/supervisors",
                   {"to": "+15551110009", "mode": "listen"}).json
    for call_sid, label in [(room["calls"]["customer"], "customer"),
                            (room["calls"]["agent"], "agent"), (ai["call_sid"], "ai"),
                            (sup["call_sid"], sup["label"])]:
        participant_event(twilio, room, "participant-join", call_sid, label)
    fake_twilio.take()


def test_last_human_leaving_ends_the_conference(api, twilio, fake_twilio, room):
    with_ai_and_supervisor(api, twilio, fake_twilio, room)
    participant_event(twilio, room, "participant-leave", room["calls"]["customer"], "customer")
    assert fake_twilio.take() == []  # the agent is still there
    participant_event(twilio, room, "participant-leave", room["calls"]["agent"], "agent")
    (end,) = fake_twilio.take()
    assert (end.operation_id, end.form) == ("UpdateConference", {"Status": "completed"})
    assert end.path.endswith(f"/Conferences/{room['sid']}.json")
    detail = api.get("/conferences/room").json
    assert detail["status"] == "completed"
    assert {p["status"] for p in detail["participants"]} == {"left"}
    assert any(e["event"] == "humans-left" for e in detail["events"])


def test_a_human_call_completing_counts_as_leaving(api, twilio, fake_twilio, room):
    with_ai_and_supervisor(api, twilio, fake_twilio, room)
    for label in ("customer", "agent"):
        twilio.post("/twilio/call-events", {"CallSid": room["calls"][label],
                                            "CallStatus": "completed"})
    assert [q.operation_id for q in fake_twilio.take()] == ["UpdateConference"]


def test_tenant_can_keep_the_room_open(twilio_app, api, twilio, fake_twilio, room, tenant):
    with twilio_app.app_context(), transaction() as session:
        session.get(Tenant, tenant[0]).end_when_humans_leave = False
    with_ai_and_supervisor(api, twilio, fake_twilio, room)
    for label in ("customer", "agent"):
        participant_event(twilio, room, "participant-leave", room["calls"][label], label)
    assert fake_twilio.take() == []
    assert api.get("/conferences/room").json["status"] != "completed"


def test_a_refused_end_hangs_up_the_ai_and_supervisors(api, twilio, fake_twilio, room):
    with_ai_and_supervisor(api, twilio, fake_twilio, room)
    fake_twilio.fail_next("UpdateConference", 20003, "Permission denied", 401)
    for label in ("customer", "agent"):
        r = participant_event(twilio, room, "participant-leave", room["calls"][label], label)
        assert r.status_code == 204
    assert [q.operation_id for q in fake_twilio.take()] == [
        "UpdateConference", "UpdateCall", "UpdateCall"]
    events = [e["event"] for e in api.get("/conferences/room").json["events"]]
    assert "end-refused" in events
