"""Admin API: auth, tenant isolation, validation, conflicts, Twilio refusals without residue."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from models import ApiKey, Conference, Participant, get_session
from models.times import utcnow

TWO = [{"to": "+15551110001", "role": "customer", "label": "customer"},
       {"to": "+15551110002", "role": "agent", "label": "agent"}]


def count(app, model) -> int:
    with app.app_context():
        return get_session().scalar(sa.select(sa.func.count(model.id)))


def test_missing_or_unknown_token_is_401(api_as):
    for key in (None, "fk_unknown"):
        r = api_as(key).get("/conferences")
        assert r.status_code == 401
        assert r.json["error"]["code"] == "unauthorized"


def test_revoked_key_is_401(twilio_app, api):
    assert api.get("/conferences").status_code == 200
    with twilio_app.app_context():
        get_session().execute(sa.update(ApiKey).values(revoked_at=utcnow()))
        get_session().commit()
    assert api.get("/conferences").status_code == 401


def test_other_tenants_conference_is_404(api, other_tenant_api, fake_twilio):
    assert api.post("/conferences", {"name": "room", "participants": TWO}).status_code == 201
    for r in (other_tenant_api.get("/conferences/room"),
              other_tenant_api.put("/conferences/room/ai", {"agent": "default", "mode": "speak"}),
              other_tenant_api.delete("/conferences/room/participants/agent"),
              other_tenant_api.post("/conferences/room/end")):
        assert r.status_code == 404 and r.json["error"]["code"] == "not_found"
    assert other_tenant_api.get("/conferences").json == {"conferences": []}
    # The same name is free for another tenant (Twilio sees distinct FriendlyNames).
    assert other_tenant_api.post("/conferences", {"name": "room"}).status_code == 201


def test_unknown_label_is_404(api, fake_twilio):
    api.post("/conferences", {"name": "room", "participants": TWO})
    assert api.delete("/conferences/room/participants/nobody").status_code == 404
    assert api.patch("/conferences/room/supervisors/agent", {"mode": "barge"}).status_code == 404
    assert api.delete("/conferences/room/ai").status_code == 404
    assert api.get("/conferences/nope").status_code == 404


def test_duplicate_name_is_409(twilio_app, api, fake_twilio):
    assert api.post("/conferences", {"name": "room", "participants": TWO}).status_code == 201
    fake_twilio.take()
    r = api.post("/conferences", {"name": "room", "participants": TWO})
    assert r.status_code == 409 and r.json["error"]["code"] == "duplicate_name"
    assert fake_twilio.take() == []  # refused before dialing anyone
    r = api.post("/conferences/room/participants", TWO[0])
    assert r.status_code == 409 and r.json["error"]["code"] == "duplicate_label"


def test_ended_conference_is_409(api, fake_twilio):
    api.post("/conferences", {"name": "room", "participants": TWO})
    assert api.post("/conferences/room/end").status_code == 200
    r = api.put("/conferences/room/ai", {"agent": "default", "mode": "speak"})
    assert r.status_code == 409 and r.json["error"]["code"] == "conference_ended"


def test_validation_reports_every_field(api, fake_twilio):
    r = api.post("/conferences", {
        "name": "bad name!", "extra": 1,
        "participants": [{"to": "555", "role": "boss", "label": "ai"},
                         {"to": "+15551110002", "role": "agent", "label": "x"},
                         {"to": "+15551110003", "role": "agent", "label": "x"}],
        "ai": {"agent": "default", "mode": "whisper"}})
    assert r.status_code == 422
    assert r.json["error"]["code"] == "validation_failed"
    assert set(r.json["error"]["fields"]) == {
        "name", "extra", "participants[0].to", "participants[0].role", "participants[0].label",
        "participants[2].label", "ai.coach"}
    assert fake_twilio.ops() == []


def test_non_json_body_is_422(api):
    r = api.client.post("/api/conferences", data="name=x",
                        headers={"Authorization": f"Bearer {api.key}"})
    assert r.status_code == 422 and r.json["error"]["fields"] == {"body": "expected a JSON object"}


def test_supervisor_and_ai_bodies_are_validated(api, fake_twilio):
    api.post("/conferences", {"name": "room", "participants": TWO})
    r = api.post("/conferences/room/supervisors", {"to": "nope", "mode": "shout"})
    assert r.status_code == 422 and set(r.json["error"]["fields"]) == {"to", "mode"}
    r = api.post("/conferences/room/supervisors", {"to": "+15551110009", "mode": "whisper"})
    assert r.json["error"]["fields"] == {"coach": "required when mode is whisper"}
    r = api.put("/conferences/room/ai", {"mode": "loud"})
    assert set(r.json["error"]["fields"]) == {"agent", "mode"}


def test_twilio_refusal_is_502_and_leaves_nothing(twilio_app, api, fake_twilio):
    # The first leg is dialed, the second refused: the first must be hung up again.
    fake_twilio.fail_nth("CreateParticipant", 2, 21220, "Invalid call state", 400)
    r = api.post("/conferences", {"name": "room", "participants": TWO})
    assert r.status_code == 502
    assert r.json["error"]["code"] == "twilio_error"
    assert r.json["error"]["twilio"] == {"code": 21220, "message": "Invalid call state"}
    assert fake_twilio.ops() == ["CreateParticipant", "CreateParticipant", "UpdateCall"]
    first_call = next(iter(fake_twilio.calls))
    hangup = fake_twilio.requests[-1]
    assert hangup.path.endswith(f"/Calls/{first_call}.json")
    assert hangup.form == {"Status": "completed"}
    assert count(twilio_app, Conference) == 0 and count(twilio_app, Participant) == 0
    assert api.get("/conferences/room").status_code == 404


def test_ai_refusal_leaves_no_ai(twilio_app, api, fake_twilio):
    api.post("/conferences", {"name": "room", "participants": TWO})
    fake_twilio.fail_next("CreateParticipant", 21218, "Invalid ApplicationSid", 400)
    r = api.put("/conferences/room/ai", {"agent": "default", "mode": "whisper", "coach": "agent"})
    assert r.status_code == 502 and r.json["error"]["twilio"]["code"] == 21218
    assert api.get("/conferences/room").json["ai"] is None
    assert count(twilio_app, Participant) == 2


def test_mode_switch_refusal_keeps_old_mode(api, fake_twilio):
    api.post("/conferences", {"name": "room", "participants": TWO})
    sup = api.post("/conferences/room/supervisors", {"to": "+15551110003", "mode": "listen"})
    fake_twilio.fail_next("UpdateParticipant", 20404, "Participant not found", 404)
    r = api.patch(f"/conferences/room/supervisors/{sup.json['label']}", {"mode": "barge"})
    assert r.status_code == 502
    (p,) = [p for p in api.get("/conferences/room").json["participants"]
            if p["role"] == "supervisor"]
    assert (p["mode"], p["muted"]) == ("listen", True)


def test_removing_a_participant_twilio_already_dropped(api, fake_twilio):
    api.post("/conferences", {"name": "room", "participants": TWO})
    fake_twilio.take()
    fake_twilio.fail_next("DeleteParticipant", 20404, "Participant not found", 404)
    r = api.delete("/conferences/room/participants/customer")
    assert r.status_code == 200 and r.json["status"] == "left"
    # It may still be ringing outside the conference: its call is hung up too.
    assert fake_twilio.ops() == ["DeleteParticipant", "UpdateCall"]
    assert fake_twilio.requests[-1].form == {"Status": "completed"}
    assert api.delete("/conferences/room/participants/customer").status_code == 200
    assert len(fake_twilio.requests) == 2  # already left: nothing more is sent


def test_ai_session_cap(twilio_app, api_as, fake_twilio, new_tenant):
    _, key = new_tenant("capped", max_ai_sessions=1)
    small = api_as(key)
    for name in ("a", "b"):
        r = small.post("/conferences", {"name": name, "participants": TWO[:1]})
        assert r.status_code == 201
    assert small.put("/conferences/a/ai", {"agent": "default", "mode": "speak"}).status_code == 201
    r = small.put("/conferences/b/ai", {"agent": "default", "mode": "speak"})
    assert r.status_code == 429 and r.json["error"]["code"] == "ai_session_limit"
    assert "limit is 1" in r.json["error"]["message"]
    # Switching mode of the running AI is not a new session.
    assert small.put("/conferences/a/ai", {"agent": "default", "mode": "listen"}).status_code == 200
    assert small.delete("/conferences/a/ai").status_code == 200
    assert small.put("/conferences/b/ai", {"agent": "default", "mode": "speak"}).status_code == 201


def test_readding_the_ai_reuses_its_label(api, fake_twilio):
    api.post("/conferences", {"name": "room", "participants": TWO})
    first = api.put("/conferences/room/ai", {"agent": "default", "mode": "speak"}).json["call_sid"]
    api.delete("/conferences/room/ai")
    assert api.put("/agents/sales", {"instructions": "Sell."}).status_code == 201
    r = api.put("/conferences/room/ai", {"agent": "sales", "mode": "listen"})
    assert r.status_code == 201 and r.json["call_sid"] != first
    detail = api.get("/conferences/room").json
    assert detail["ai"] == {"agent": "sales", "mode": "listen", "coach": None,
                            "pending_coach": False, "status": "queued",
                            "call_sid": r.json["call_sid"], "present": True}


def test_list_and_detail(api, fake_twilio):
    api.post("/conferences", {"name": "one", "participants": TWO})
    api.post("/conferences", {"name": "two"})
    names = [c["name"] for c in api.get("/conferences").json["conferences"]]
    assert names == ["two", "one"]
    assert api.get("/conferences?status=completed").json == {"conferences": []}
    assert api.get("/conferences?status=bogus").status_code == 422
    detail = api.get("/conferences/one").json
    assert [e["event"] for e in detail["events"]] == ["conference-created"]
    assert detail["streams"] == [] and len(detail["participants"]) == 2


def test_end_refused_by_twilio_keeps_conference_live(api, fake_twilio):
    api.post("/conferences", {"name": "room", "participants": TWO})
    fake_twilio.fail_next("UpdateConference", 20500, "Internal error", 500)
    r = api.post("/conferences/room/end")
    assert r.status_code == 502 and r.json["error"]["twilio"]["code"] == 20500
    conf = api.get("/conferences/room").json
    assert conf["status"] == "pending" and {p["status"] for p in conf["participants"]} == {"queued"}


def test_remove_refused_by_twilio_keeps_participant(api, fake_twilio):
    api.post("/conferences", {"name": "room", "participants": TWO})
    fake_twilio.fail_next("DeleteParticipant", 20003, "Permission denied", 401)
    assert api.delete("/conferences/room/participants/agent").status_code == 502
    agent = [p for p in api.get("/conferences/room").json["participants"]
             if p["label"] == "agent"][0]
    assert agent["status"] == "queued"


def test_whisper_needs_a_live_coach(api, fake_twilio):
    api.post("/conferences", {"name": "room", "participants": TWO})
    fake_twilio.take()
    r = api.put("/conferences/room/ai", {"agent": "default", "mode": "whisper", "coach": "nobody"})
    assert r.status_code == 422 and r.json["error"]["fields"] == {
        "coach": "no such live participant"}
    assert fake_twilio.take() == [] and api.get("/conferences/room").json["ai"] is None


def test_routing_errors_keep_the_error_shape(api, twilio_app):
    r = api.get("/nothing-here")
    assert r.status_code == 404 and r.json["error"]["code"] == "not_found"
    r = api.patch("/conferences", {})
    assert r.status_code == 405 and r.json["error"]["code"] == "method_not_allowed"
    assert twilio_app.test_client().get("/not-api").status_code == 404


def test_unknown_agent_profile_is_422_and_dials_nothing(twilio_app, api, other_tenant_api,
                                                        fake_twilio):
    # A backend name is not a profile: agent names are the tenant's profiles.
    r = api.post("/conferences", {"name": "room", "participants": TWO,
                                  "ai": {"agent": "realtime", "mode": "speak"}})
    assert r.status_code == 422 and r.json["error"]["fields"] == {
        "ai.agent": "unknown agent profile 'realtime' (see GET /api/agents)"}
    assert fake_twilio.take() == [] and count(twilio_app, Conference) == 0

    assert api.post("/conferences", {"name": "room", "participants": TWO}).status_code == 201
    fake_twilio.take()
    r = api.put("/conferences/room/ai", {"agent": "sales", "mode": "speak"})
    assert r.status_code == 422 and set(r.json["error"]["fields"]) == {"agent"}
    # Profiles are per tenant: another tenant's profile is unknown here too.
    assert other_tenant_api.put("/agents/sales", {"instructions": "Sell."}).status_code == 201
    assert api.put("/conferences/room/ai", {"agent": "sales", "mode": "speak"}).status_code == 422
    assert fake_twilio.take() == [] and api.get("/conferences/room").json["ai"] is None

    assert api.put("/agents/sales", {"instructions": "Sell."}).status_code == 201
    r = api.put("/conferences/room/ai", {"agent": "sales", "mode": "speak"})
    assert r.status_code == 201 and r.json["agent"] == "sales"
    # Once the AI is there, switching mode still checks the name.
    r = api.put("/conferences/room/ai", {"agent": "nope", "mode": "listen"})
    assert r.status_code == 422 and set(r.json["error"]["fields"]) == {"agent"}
    r = api.put("/conferences/room/ai", {"agent": "default", "mode": "listen"})
    assert r.status_code == 200


@pytest.mark.parametrize("label, problem", [
    ("CA" + "0123456789abcdef" * 2, "must not look like a CallSid"),
    ("team/lead", "must not contain '/'"),
    ("x" * 129, "at most 128 characters"),
])
def test_labels_twilio_refuses_are_422_per_field(api, fake_twilio, label, problem):
    api.post("/conferences", {"name": "room", "participants": TWO})
    fake_twilio.take()
    r = api.post("/conferences/room/participants",
                 {"to": "+15551110003", "role": "agent", "label": label})
    assert r.status_code == 422 and problem in r.json["error"]["fields"]["label"]
    assert fake_twilio.ops() == []


def test_twilio_duplicate_label_16026_is_409(api, fake_twilio):
    """errors/16026: a duplicate label over REST; the caller learns which field clashed."""
    api.post("/conferences", {"name": "room", "participants": TWO})
    fake_twilio.fail_next("CreateParticipant", 16026, "Duplicate participant label", 400)
    r = api.post("/conferences/room/participants",
                 {"to": "+15551110003", "role": "agent", "label": "second"})
    assert r.status_code == 409 and r.json["error"]["code"] == "duplicate_label"
    assert [p["label"] for p in api.get("/conferences/room").json["participants"]] == [
        "customer", "agent"]
