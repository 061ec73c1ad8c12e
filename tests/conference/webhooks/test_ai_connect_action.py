"""<Connect action>: the AI leg's way back after its stream ends (twiml/connect#action)."""
from __future__ import annotations

from urllib.parse import urlsplit
from xml.etree import ElementTree

import sqlalchemy as sa

from models import ConferenceEvent, get_session
from tests.support.twilio_requests import ai_to


def connect(xml: bytes) -> ElementTree.Element:
    return ElementTree.fromstring(xml).find("./Connect")


def action_path(el: ElementTree.Element) -> str:
    parts = urlsplit(el.get("action"))
    return f"{parts.path}?{parts.query}"


def test_ai_twiml_has_a_signed_action_url_and_numbered_stream(twilio, api, fake_twilio):
    call_sid, custom = ai_to(api, fake_twilio, "speak")
    el = connect(twilio.post("/twilio/ai/voice", {"CallSid": call_sid, **custom}).data)
    assert el.get("action") == "https://forkline.test/twilio/ai/connect-action?n=1"
    assert el.find("Stream").get("name") == "ai-1"


def test_action_answers_a_new_stream_once_per_ended_stream(twilio_app, twilio, api,
                                                           fake_twilio):
    call_sid, custom = ai_to(api, fake_twilio, "speak")
    first = connect(twilio.post("/twilio/ai/voice", {"CallSid": call_sid, **custom}).data)
    replies = [twilio.post(action_path(first), {"CallSid": call_sid}) for _ in range(2)]
    second = [connect(r.data) for r in replies]
    # Same answer to the repeat: the one next stream name, never a third stream.
    assert [el.find("Stream").get("name") for el in second] == ["ai-2", "ai-2"]
    assert second[0].get("action").endswith("/twilio/ai/connect-action?n=2")
    params = {p.get("name"): p.get("value") for p in second[0].findall("Stream/Parameter")}
    assert params["conference"] == "room" and params["mode"] == "speak"
    third = connect(twilio.post(action_path(second[0]), {"CallSid": call_sid}).data)
    assert third.find("Stream").get("name") == "ai-3"
    with twilio_app.app_context():
        events = get_session().scalars(sa.select(ConferenceEvent).where(
            ConferenceEvent.event == "ai-connect-action")).all()
        assert [e.payload["next"] for e in events] == ["ai-2", "ai-3"]
    assert fake_twilio.take() == []  # no Calls update, no new participant


def test_action_for_a_removed_ai_hangs_up(twilio, api, fake_twilio):
    call_sid, custom = ai_to(api, fake_twilio, "speak")
    first = connect(twilio.post("/twilio/ai/voice", {"CallSid": call_sid, **custom}).data)
    assert api.delete("/conferences/room/ai").status_code == 200
    r = twilio.post(action_path(first), {"CallSid": call_sid})
    assert [el.tag for el in ElementTree.fromstring(r.data)] == ["Hangup"]


def test_action_for_an_ended_conference_or_unknown_call_hangs_up(twilio, api, fake_twilio):
    call_sid, custom = ai_to(api, fake_twilio, "speak")
    first = connect(twilio.post("/twilio/ai/voice", {"CallSid": call_sid, **custom}).data)
    r = twilio.post(action_path(first), {"CallSid": "CA" + "f" * 32})
    assert [el.tag for el in ElementTree.fromstring(r.data)] == ["Hangup"]
    assert api.post("/conferences/room/end").status_code == 200
    r = twilio.post(action_path(first), {"CallSid": call_sid})
    assert [el.tag for el in ElementTree.fromstring(r.data)] == ["Hangup"]


def test_action_is_signature_checked_and_validated(twilio_app, twilio, api, fake_twilio):
    call_sid, _ = ai_to(api, fake_twilio, "speak")
    client = twilio_app.test_client()
    assert client.post("/twilio/ai/connect-action?n=1",
                       data={"CallSid": call_sid}).status_code == 403
    r = twilio.post("/twilio/ai/connect-action?n=zero", {"CallSid": call_sid})
    # Bad input on the AI leg is refused with <Hangup/> only, never Twilio's spoken error.
    assert r.status_code == 200
    assert [el.tag for el in ElementTree.fromstring(r.data)] == ["Hangup"]


def test_a_stream_that_keeps_failing_stops_at_the_cap(twilio, api, fake_twilio):
    from conference.webhooks.ai_stream import MAX_AI_STREAMS

    call_sid, _ = ai_to(api, fake_twilio, "speak")
    r = twilio.post(f"/twilio/ai/connect-action?n={MAX_AI_STREAMS}", {"CallSid": call_sid})
    assert [el.tag for el in ElementTree.fromstring(r.data)] == ["Hangup"]
    ai = api.get("/conferences/room").json["ai"]
    assert ai["status"] == "left"  # hung up on purpose: its leave will not re-dial it
