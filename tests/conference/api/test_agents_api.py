"""Agent profiles and transcripts in the admin API (SQLite and PostgreSQL, tenants isolated)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from agents.base import AgentProfile
from conference.ai import profiles
from conference.transcripts import store as transcripts
from conference.transcripts import summary
from models import Conference, ConferenceSummary, TranscriptEntry, transaction

FAQ = [{"question": "Do you ship abroad?", "answer": "Yes, to all of Europe."}]


def test_default_profile_always_exists(api):
    listed = api.get("/agents")
    assert listed.status_code == 200
    assert [a["name"] for a in listed.json["agents"]] == ["default"]
    default = api.get("/agents/default").json
    assert default["faq"] and "end_call" in default["tools"] and default["voice"] == "alloy"


def test_put_creates_then_updates_a_profile(api):
    created = api.put("/agents/sales", {"instructions": "Sell politely.", "voice": "coral",
                                        "tools": ["lookup", "end_call"], "faq": FAQ})
    assert created.status_code == 201
    assert created.json["tools"] == ["lookup", "end_call"] and created.json["faq"] == FAQ
    updated = api.put("/agents/sales", {"greeting": "Hi, sales here."})
    assert updated.status_code == 200
    got = api.get("/agents/sales").json
    assert (got["greeting"], got["voice"], got["instructions"]) == (
        "Hi, sales here.", "coral", "Sell politely.")
    assert [a["name"] for a in api.get("/agents").json["agents"]] == ["default", "sales"]


def test_default_can_be_edited_and_keeps_its_other_fields(api):
    response = api.put("/agents/default", {"greeting": "Hello from Acme."})
    assert response.status_code == 201  # first write stores the default
    got = api.get("/agents/default").json
    assert got["greeting"] == "Hello from Acme." and got["faq"]
    assert api.put("/agents/default", {"voice": "marin"}).status_code == 200


@pytest.mark.parametrize(("body", "field"), [
    ({"voice": "nova"}, "voice"),  # not a Realtime voice: sounds broken on phone lines
    ({"instructions": ""}, "instructions"),
    ({"instructions": "x", "tools": ["rm_rf"]}, "tools"),
    ({"instructions": "x", "faq": [{"question": "q"}]}, "faq"),
    ({"instructions": "x", "backend": "skynet"}, "backend"),
    ({"instructions": "x", "colour": "red"}, "colour"),
    ({"greeting": "hi"}, "instructions"),  # a new profile needs instructions
])
def test_invalid_profile_is_422_with_fields(api, body, field):
    response = api.put("/agents/new-one", body)
    assert response.status_code == 422
    assert field in response.json["error"]["fields"]
    assert api.get("/agents/new-one").status_code == 404


def test_bad_name_and_bad_body(api):
    response = api.put("/agents/bad name!", {"instructions": "x"})
    assert response.status_code == 422 and "name" in response.json["error"]["fields"]
    response = api.client.put("/api/agents/x", data="nope", headers=api._headers())
    assert response.status_code == 422 and response.json["error"]["code"] == "validation_failed"


def test_unknown_profile_is_404_in_the_error_shape(api):
    response = api.get("/agents/ghost")
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"


def test_auth_required(api_as):
    assert api_as(None).get("/agents").status_code == 401
    assert api_as("fk_wrong").put("/agents/x", {"instructions": "x"}).status_code == 401


def test_tenants_are_isolated(api, other_tenant_api, twilio_app, tenant):
    assert api.put("/agents/vip", {"instructions": "Acme only."}).status_code == 201
    assert other_tenant_api.get("/agents/vip").status_code == 404
    assert [a["name"] for a in other_tenant_api.get("/agents").json["agents"]] == ["default"]
    assert other_tenant_api.put("/agents/vip", {"instructions": "Globex."}).status_code == 201
    assert api.get("/agents/vip").json["instructions"] == "Acme only."
    with twilio_app.app_context():
        assert profiles.profile_exists(tenant[0], "vip")
        assert profiles.profile_exists(tenant[0], "default")
        assert not profiles.profile_exists(tenant[0], "ghost")
        loaded = profiles.load_profile(tenant[0], "vip")
        assert isinstance(loaded, AgentProfile) and loaded.instructions == "Acme only."
        assert profiles.load_profile(tenant[0], "ghost") is None


def test_load_profile_converts_faq_and_tools(api, twilio_app, tenant):
    api.put("/agents/faq", {"instructions": "x", "faq": FAQ, "tools": ["lookup"],
                            "backend": "local"})
    with twilio_app.app_context():
        profile = profiles.load_profile(tenant[0], "faq")
        assert profiles.backend_for(tenant[0], "faq") == "local"
        assert profiles.backend_for(tenant[0], "default") is None
        assert profiles.runtime_profile(str(tenant[0]), "ghost").name == "default"
    assert profile.faq == (("Do you ship abroad?", "Yes, to all of Europe."),)
    assert profile.tools == ("lookup",)


def _conference_with_entries(app, tenant_id: int, name: str) -> None:
    t0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    with app.app_context(), transaction() as session:
        conf = Conference(tenant_id=tenant_id, name=name, status="completed")
        session.add(conf)
        session.flush()
        # Inserted out of order; the endpoint orders by start time, then seq.
        rows = [("ai", "ai", "We open at nine.", 3, 0), ("alice", "customer", "Hi.", 0, 0),
                ("bob", "agent", "Hello Alice.", 1, 0), ("alice", "customer", "Hours?", 2, 0),
                ("bob", "agent", "Same start, later seq.", 2, 1)]
        for speaker, role, text, second, seq in rows:
            session.add(TranscriptEntry(
                conference_id=conf.id, speaker=speaker, role=role, text=text, seq=seq,
                started_at=t0 + timedelta(seconds=second),
                ended_at=t0 + timedelta(seconds=second, milliseconds=800),
                source="ai" if speaker == "ai" else "fork"))
        session.add(ConferenceSummary(conference_id=conf.id, text="Hours asked.",
                                      method="extractive"))


def test_transcript_is_ordered_and_labelled(api, other_tenant_api, twilio_app, tenant):
    _conference_with_entries(twilio_app, tenant[0], "call-1")
    response = api.get("/conferences/call-1/transcript")
    assert response.status_code == 200
    entries = response.json["entries"]
    assert [(e["speaker"], e["text"]) for e in entries] == [
        ("alice", "Hi."), ("bob", "Hello Alice."), ("alice", "Hours?"),
        ("bob", "Same start, later seq."), ("ai", "We open at nine.")]
    assert entries[-1]["source"] == "ai" and entries[0]["role"] == "customer"
    assert response.json["summary"] == {"text": "Hours asked.", "method": "extractive"}
    assert other_tenant_api.get("/conferences/call-1/transcript").status_code == 404
    assert api.get("/conferences/nope/transcript").status_code == 404


def test_ai_lines_recorded_as_media_events_join_the_transcript(api, twilio_app, tenant):
    from models import ConferenceEvent

    t0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    with twilio_app.app_context(), transaction() as session:
        conf = Conference(tenant_id=tenant[0], name="call-2", status="completed")
        session.add(conf)
        session.flush()
        session.add(TranscriptEntry(conference_id=conf.id, speaker="alice", role="customer",
                                    text="Hours?", started_at=t0, source="fork"))
        for i, (speaker, text) in enumerate([("caller", "hours"), ("ai", "Nine to five.")]):
            session.add(ConferenceEvent(
                conference_id=conf.id, source="media", event="transcript", dedup_key=f"k{i}",
                payload={"speaker": speaker, "text": text}, received_at=t0 + timedelta(seconds=2)))
    entries = api.get("/conferences/call-2/transcript").json["entries"]
    assert [(e["speaker"], e["text"]) for e in entries] == [
        ("alice", "Hours?"), ("ai", "Nine to five.")]


def test_stage_histograms_are_served_on_metrics(client):
    from agents.pipeline.metrics import TurnMetrics, observe

    observe(TurnMetrics("item_x", "local", 80.0, 0.1, 20.0, 600.0))
    text = client.get("/metrics").data.decode()
    assert 'forkline_agent_stage_seconds_count{backend="local",stage="end_to_end"}' in text


def test_agents_routes_are_in_the_openapi_document(client, app):
    doc = client.get("/api/openapi.json").json
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("agents_api."):
            path = rule.rule.removeprefix("/api").replace("<name>", "{name}")
            documented = {m.upper() for m in doc["paths"][path]}
            assert rule.methods - {"HEAD", "OPTIONS"} <= documented, rule.rule
    assert doc["paths"]["/agents/{name}"]["put"]["requestBody"]["required"] is True


def test_heard_cuts_take_the_first_cut_and_count_flushed_audio():
    cuts = transcripts.heard_cuts([
        {"item_id": "i1", "heard_ms": 900, "flushed_ms": 2100},
        {"item_id": "i1", "heard_ms": 1500, "flushed_ms": 0},  # a later, stale report
        {"item_id": None, "heard_ms": 0, "flushed_ms": 0},  # the AI was silent
        {"item_id": "i2", "heard_ms": "?"}])
    assert cuts == {"i1": (900, 3000)}
    assert transcripts.ai_line("one two three four five six seven eight nine ten", "i1", cuts) == {
        "text": "one two three...", "interrupted": True, "heard_ms": 900}
    assert transcripts.ai_line("Untouched.", "i9", cuts) == {"text": "Untouched."}
    assert transcripts.ai_line("Nothing heard.", "i0", {"i0": (0, 800)}) is None


@pytest.mark.parametrize("barge_first", [False, True])
def test_an_interrupted_ai_line_is_stored_as_heard(api, twilio_app, tenant, barge_first):
    from conference.media import statesink

    with twilio_app.app_context(), transaction() as session:
        session.add(Conference(tenant_id=tenant[0], name="call-3", status="in-progress"))
    info = {"tenant": str(tenant[0]), "conference": "call-3", "call_sid": "CA" + "a" * 32}
    said = "Our opening hours are nine to five on weekdays and ten to two on Saturdays"
    writes = [
        ("transcript", {"speaker": "ai", "text": "Hello, how can I help?", "item_id": "r1"}),
        ("transcript", {"speaker": "ai", "text": said, "item_id": "r2"}),
        ("barge-in", {"source": "vad", "speaker": "alice", "item_id": "r2", "heard_ms": 1500,
                      "flushed_ms": 3000}),
    ]
    if barge_first:  # the cut may be recorded before the backend's final text arrives
        writes = [writes[0], writes[2], writes[1]]
    with twilio_app.app_context():
        for i, (event, payload) in enumerate(writes):
            statesink.media_event(info, event, f"media:{i}", payload)
    entries = api.get("/conferences/call-3/transcript").json["entries"]
    assert [(e["text"], e.get("interrupted"), e.get("heard_ms")) for e in entries] == [
        ("Hello, how can I help?", None, None),
        ("Our opening hours are nine...", True, 1500)]  # 1.5 of 4.5 s: 5 of 15 words

    with twilio_app.app_context():
        row = summary.summarize_conference(tenant[0], "call-3", twilio_app.config)
        assert "Saturdays" not in row.text and "weekdays" not in row.text
