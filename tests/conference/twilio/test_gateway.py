"""TwilioGateway: honours TWILIO_API_URL, ignores region/edge, maps Twilio errors."""
from __future__ import annotations

import pytest

from conference.twilio.gateway import GatewayError, TwilioGateway, get_gateway


@pytest.fixture
def gateway(app_config, fake_twilio):
    return TwilioGateway(app_config["TWILIO_ACCOUNT_SID"], app_config["TWILIO_AUTH_TOKEN"],
                         fake_twilio.url)


def test_requests_go_to_the_configured_api_url(gateway, fake_twilio, monkeypatch):
    monkeypatch.setenv("TWILIO_REGION", "ie1")  # must not rewrite 127.0.0.1 into 127.ie1.0.1
    monkeypatch.setenv("TWILIO_EDGE", "dublin")
    info = gateway.add_participant("t1-room", to="+15551110001", from_="+15550000000",
                                   label="customer")
    assert info.call_sid.startswith("CA") and info.conference_sid.startswith("CF")
    assert info.status == "queued" and info.label == "customer"
    (req,) = fake_twilio.requests
    assert req.path.endswith("/Conferences/t1-room/Participants.json")
    assert "StatusCallback" not in req.form and "Coaching" not in req.form


def test_twilio_error_carries_code_and_message(gateway, fake_twilio):
    fake_twilio.fail_next("CreateParticipant", 21211, "Invalid 'To' Phone Number", 400)
    with pytest.raises(GatewayError) as caught:
        gateway.add_participant("t1-room", to="+15551110001", from_="+15550000000", label="x")
    assert (caught.value.code, caught.value.message, caught.value.status) == (
        21211, "Invalid 'To' Phone Number", 400)


def test_wrong_credentials_are_a_gateway_error(app_config, fake_twilio):
    bad = TwilioGateway(app_config["TWILIO_ACCOUNT_SID"], "wrong-token", fake_twilio.url)
    with pytest.raises(GatewayError) as caught:
        bad.hangup_call("CA" + "1" * 32)
    assert (caught.value.code, caught.value.status) == (20003, 401)


def test_unreachable_twilio_is_a_gateway_error(app_config):
    gw = TwilioGateway(app_config["TWILIO_ACCOUNT_SID"], "t", "http://127.0.0.1:9", timeout_s=2)
    with pytest.raises(GatewayError) as caught:
        gw.end_conference("CF" + "1" * 32)
    assert caught.value.code is None and "unreachable" in caught.value.message


def test_streams_and_calls(gateway, fake_twilio):
    info = gateway.add_participant("t1-room", to="+15551110001", from_="+15550000000",
                                   label="agent")
    stream = gateway.start_stream(info.call_sid, url="wss://h/twilio/fork", name="fork-agent",
                                  parameters={"conference": "room", "label": "agent"},
                                  status_callback="https://h/twilio/stream-events")
    assert stream.sid.startswith("MZ") and stream.status == "in-progress"
    assert gateway.stop_stream(info.call_sid, "fork-agent").status == "stopped"
    gateway.update_call(info.call_sid, twiml="<Response><Hangup/></Response>")
    gateway.update_call(info.call_sid, url="https://h/twiml")
    gateway.hangup_call(info.call_sid)
    with pytest.raises(GatewayError) as caught:  # a completed call cannot be redirected
        gateway.update_call(info.call_sid, twiml="<Response/>")
    assert caught.value.code == 21220
    forms = [r.form for r in fake_twilio.requests]
    assert forms[1]["Parameter1.Name"] == "conference" and forms[1]["Parameter2.Value"] == "agent"
    assert forms[3] == {"Twiml": "<Response><Hangup/></Response>"}
    assert forms[4] == {"Url": "https://h/twiml", "Method": "POST"}
    with pytest.raises(ValueError):
        gateway.update_call(info.call_sid)


def test_app_holds_a_gateway_from_config(app):
    with app.app_context():
        gw = get_gateway()
    assert gw.client.api.base_url == app.config["TWILIO_API_URL"]
