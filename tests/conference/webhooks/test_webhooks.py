"""Signed webhooks: signature checks, inbound routing TwiML, the AI App's Voice URL."""
from __future__ import annotations

from xml.etree import ElementTree

import pytest
import sqlalchemy as sa

from conference.security.proxy import TrustedProxies
from conference.twilio.security import read_stream_token
from models import Conference, Participant, get_session
from tests.support.twilio_requests import ai_to

CALLER = {"CallSid": "CA" + "c" * 32, "AccountSid": "AC" + "0" * 32, "From": "+15557770000",
          "To": "+15550001000", "CallStatus": "ringing", "Direction": "inbound"}
WEBHOOKS = ["/twilio/voice", "/twilio/ai/voice", "/twilio/conference-events",
            "/twilio/call-events", "/twilio/stream-events"]


@pytest.mark.parametrize("path", WEBHOOKS)
def test_missing_signature_is_403(twilio_app, path):
    assert twilio_app.test_client().post(path, data=CALLER).status_code == 403


@pytest.mark.parametrize("path", WEBHOOKS)
def test_wrong_signature_is_403(twilio_app, twilio, path):
    bad = twilio.sign("https://forkline.test" + path, {**CALLER, "From": "+15550000001"})
    r = twilio_app.test_client().post(path, data=CALLER, headers={"X-Twilio-Signature": bad})
    assert r.status_code == 403


@pytest.mark.parametrize("path", WEBHOOKS)
def test_signature_for_another_url_is_403(twilio_app, twilio, path):
    assert twilio.post(path, CALLER, base="https://evil.example").status_code == 403
    other = "/twilio/voice" if path != "/twilio/voice" else "/twilio/call-events"
    sig = twilio.sign("https://forkline.test" + other, CALLER)
    r = twilio_app.test_client().post(path, data=CALLER, headers={"X-Twilio-Signature": sig})
    assert r.status_code == 403


def test_forwarded_proto_and_host_rebuild_the_signed_url(twilio_app, twilio, tenant):
    twilio_app.config["PUBLIC_URL"] = None
    twilio_app.wsgi_app = TrustedProxies(twilio_app.wsgi_app, 1)  # one proxy in front
    base = "https://tunnel.example.net"
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "tunnel.example.net"}
    r = twilio.post("/twilio/voice", CALLER, base=base, headers=headers)
    assert r.status_code == 200
    stream = ElementTree.fromstring(r.data).find("./Start/Stream")
    assert stream.get("url") == "wss://tunnel.example.net/twilio/fork"
    # Without the forwarded headers the service sees http://localhost and refuses.
    assert twilio.post("/twilio/voice", CALLER, base=base).status_code == 403


def test_inbound_call_is_forked_then_joined(twilio_app, twilio, tenant, fake_twilio):
    r = twilio.post("/twilio/voice", CALLER)
    assert r.status_code == 200 and r.mimetype == "text/xml"
    root = ElementTree.fromstring(r.data)
    assert [el.tag for el in root] == ["Start", "Dial"]
    stream = root.find("./Start/Stream")
    assert stream.get("url") == "wss://forkline.test/twilio/fork"
    assert stream.get("track") == "inbound_track"
    assert stream.get("statusCallback") == "https://forkline.test/twilio/stream-events"
    params = {p.get("name"): p.get("value") for p in stream.findall("Parameter")}
    name = f"call-{CALLER['CallSid']}"
    assert (params["conference"], params["tenant"], params["label"], params["role"]) == (
        name, str(tenant[0]), "customer", "customer")
    claims = read_stream_token(twilio_app.config["SECRET_KEY"], params["token"], 60)
    assert claims == {"conference": name, "tenant": tenant[0], "kind": "fork",
                      "label": "customer", "call": CALLER["CallSid"]}
    conf = root.find("./Dial/Conference")
    assert conf.text == f"t{tenant[0]}-{name}"
    assert conf.get("participantLabel") == "customer"
    assert conf.get("statusCallback") == "https://forkline.test/twilio/conference-events"
    assert set(conf.get("statusCallbackEvent").split()) >= {"start", "end", "join", "leave"}
    # Its join callback must not fork the leg a second time.
    twilio.post("/twilio/conference-events", {
        "ConferenceSid": "CF" + "1" * 32, "FriendlyName": conf.text, "SequenceNumber": "1",
        "StatusCallbackEvent": "participant-join", "CallSid": CALLER["CallSid"],
        "ParticipantLabel": "customer"})
    assert fake_twilio.ops() == []
    with twilio_app.app_context():
        p = get_session().scalar(sa.select(Participant))
        assert (p.status, p.fork_started, p.conference.twilio_sid) == ("joined", True,
                                                                      "CF" + "1" * 32)


def test_room_parameter_joins_existing_conference(twilio_app, twilio, api, tenant):
    assert api.post("/conferences", {"name": "standup", "participants": []}).status_code == 201
    r = twilio.post("/twilio/voice?room=standup", CALLER)
    assert r.status_code == 200
    assert ElementTree.fromstring(r.data).find("./Dial/Conference").text == f"t{tenant[0]}-standup"
    second = {**CALLER, "CallSid": "CA" + "d" * 32}
    twilio.post("/twilio/voice?room=standup", second)
    labels = [p["label"] for p in api.get("/conferences/standup").json["participants"]]
    assert labels == ["customer", "customer-2"]


def test_unknown_number_hears_a_message(twilio_app, twilio):
    r = twilio.post("/twilio/voice", {**CALLER, "To": "+15559999999"})
    root = ElementTree.fromstring(r.data)
    assert r.status_code == 200 and [el.tag for el in root] == ["Say", "Hangup"]
    with twilio_app.app_context():
        assert get_session().scalar(sa.select(sa.func.count(Conference.id))) == 0


@pytest.mark.parametrize(("params", "reason"), [
    ({k: v for k, v in CALLER.items() if k != "CallSid"}, "missing parameter CallSid"),
    ({**CALLER, "CallSid": "CA123"}, "invalid parameter CallSid"),
])
def test_voice_bad_params_are_400(twilio, tenant, params, reason):
    r = twilio.post("/twilio/voice", params)
    assert r.status_code == 400 and reason in r.get_data(as_text=True)


def test_voice_bad_room_is_400(twilio, tenant):
    r = twilio.post("/twilio/voice?room=%3Cbad%3E", CALLER)
    assert r.status_code == 400 and "invalid parameter room" in r.get_data(as_text=True)


def test_ai_voice_with_params(twilio_app, twilio, api, fake_twilio, tenant):
    call_sid, custom = ai_to(api, fake_twilio)
    r = twilio.post("/twilio/ai/voice", {"CallSid": call_sid, **custom})
    stream = ElementTree.fromstring(r.data).find("./Connect/Stream")
    params = {p.get("name"): p.get("value") for p in stream.findall("Parameter")}
    assert params["mode"] == "listen" and params["coach"] == ""


def test_ai_voice_falls_back_to_parent_call_sid(twilio_app, twilio, api, fake_twilio, tenant):
    call_sid, _ = ai_to(api, fake_twilio)
    r = twilio.post("/twilio/ai/voice", {"CallSid": "CA" + "e" * 32, "ParentCallSid": call_sid})
    assert r.status_code == 200
    params = {p.get("name"): p.get("value")
              for p in ElementTree.fromstring(r.data).findall("./Connect/Stream/Parameter")}
    assert (params["conference"], params["agent"]) == ("room", "default")


def test_ai_voice_rejects_forged_token(twilio_app, twilio, api, fake_twilio, tenant):
    ai_to(api, fake_twilio)
    r = twilio.post("/twilio/ai/voice", {"CallSid": "CA" + "e" * 32, "conference": "room",
                                         "tenant": str(tenant[0]), "token": "forged"})
    # Refused with <Hangup/> only: a 400 would make Twilio play its error message, and the AI
    # leg's far end is the conference (the customer would hear it).
    assert r.status_code == 200 and r.mimetype in ("text/xml", "application/xml")
    assert [el.tag for el in ElementTree.fromstring(r.data)] == ["Hangup"]


def test_unexpected_failure_is_never_a_500(twilio_app, twilio, tenant, monkeypatch):
    from conference.service import callbacks
    from conference.webhooks import inbound

    def boom(*_args, **_kwargs):
        raise RuntimeError("database fell over")

    monkeypatch.setattr(inbound, "admit_caller", boom)
    monkeypatch.setattr(callbacks, "handle_call_event", boom)
    r = twilio.post("/twilio/voice", CALLER)
    assert r.status_code == 200
    assert [el.tag for el in ElementTree.fromstring(r.data)] == ["Say", "Hangup"]
    r = twilio.post("/twilio/call-events", {"CallSid": CALLER["CallSid"], "CallStatus": "ringing"})
    assert r.status_code == 204


def test_forwarded_proto_with_plain_host_header(twilio_app, twilio, tenant):
    twilio_app.config["PUBLIC_URL"] = None
    twilio_app.wsgi_app = TrustedProxies(twilio_app.wsgi_app, 1)
    r = twilio.post("/twilio/voice", CALLER, base="https://app.herokuapp.example",
                    headers={"X-Forwarded-Proto": "https"},
                    base_url="http://app.herokuapp.example")
    assert r.status_code == 200
    stream = ElementTree.fromstring(r.data).find("./Start/Stream")
    assert stream.get("url") == "wss://app.herokuapp.example/twilio/fork"
    conf = ElementTree.fromstring(r.data).find("./Dial/Conference")
    assert conf.get("statusCallback") == "https://app.herokuapp.example/twilio/conference-events"


def test_simultaneous_callers_share_one_new_room(twilio_app, twilio, tenant):
    import threading

    barrier, responses = threading.Barrier(4), []

    def call(i):
        sender = type(twilio)(twilio_app.test_client(), twilio_app.config["TWILIO_AUTH_TOKEN"])
        barrier.wait()
        responses.append(sender.post("/twilio/voice?room=town-hall",
                                     {**CALLER, "CallSid": f"CA{i:032x}"}))

    threads = [threading.Thread(target=call, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status_code for r in responses] == [200] * 4
    assert {ElementTree.fromstring(r.data).find("./Dial/Conference").text
            for r in responses} == {f"t{tenant[0]}-town-hall"}
    with twilio_app.app_context():
        (conf,) = get_session().scalars(sa.select(Conference)).all()
        assert sorted(p.label for p in conf.participants) == [
            "customer", "customer-2", "customer-3", "customer-4"]


def _fork_token(response) -> str:
    stream = ElementTree.fromstring(response.data).find("./Start/Stream")
    return {p.get("name"): p.get("value") for p in stream.findall("Parameter")}["token"]


def test_a_replayed_voice_webhook_gets_the_same_token(twilio_app, twilio, tenant):
    first = twilio.post("/twilio/voice", CALLER)
    again = twilio.post("/twilio/voice", CALLER)
    assert first.status_code == again.status_code == 200
    assert _fork_token(first) == _fork_token(again)
    claims = read_stream_token(twilio_app.config["SECRET_KEY"], _fork_token(first), 60)
    assert claims["call"] == CALLER["CallSid"]


def test_ai_leg_failure_is_a_silent_hangup(twilio_app, twilio, api, fake_twilio, tenant,
                                           monkeypatch):
    """What the AI leg's TwiML says, the whole conference hears: failures only hang up."""
    from conference.webhooks import inbound

    call_sid, custom = ai_to(api, fake_twilio)
    monkeypatch.setattr(inbound, "resolve_ai_leg", lambda *_a: 1 / 0)
    r = twilio.post("/twilio/ai/voice", {"CallSid": call_sid, **custom})
    assert r.status_code == 200
    assert [el.tag for el in ElementTree.fromstring(r.data)] == ["Hangup"]


def test_ai_leg_for_an_ended_conference_hangs_up_silently(twilio_app, twilio, api, fake_twilio,
                                                          tenant):
    call_sid, custom = ai_to(api, fake_twilio)
    assert api.post("/conferences/room/end").status_code == 200
    r = twilio.post("/twilio/ai/voice", {"CallSid": call_sid, **custom})
    assert [el.tag for el in ElementTree.fromstring(r.data)] == ["Hangup"]
