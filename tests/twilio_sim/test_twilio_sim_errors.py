"""Errors the simulator shares with Twilio (codes and JSON shape), and a REST fuzz test."""
from __future__ import annotations

import json

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twilio.base.exceptions import TwilioRestException

from twilio_sim.phone import synthesize
from twilio_sim.testing import sdk_client, wait_for

pytestmark = pytest.mark.slow
HOLD = "<Response><Pause length=\"60\"/></Response>"


def api(sim_server, path: str) -> str:
    """Absolute URL of an account-scoped REST path."""
    return f"{sim_server.base_url}/2010-04-01/Accounts/{sim_server.account_sid}{path}"


def post(sim_server, path: str, data: dict) -> requests.Response:
    """An authenticated form POST."""
    return requests.post(api(sim_server, path), data=data, timeout=10,
                         auth=(sim_server.account_sid, sim_server.auth_token))


def assert_error(resp: requests.Response, status: int, code: int) -> None:
    """Twilio's error JSON with the expected status and code."""
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"code", "message", "more_info", "status"}
    assert body["code"] == code and body["status"] == status
    assert body["more_info"] == f"https://www.twilio.com/docs/errors/{code}"


def test_wrong_credentials_are_401(sim_server):
    client = sdk_client(sim_server.base_url, sim_server.account_sid, "wrong-token")
    with pytest.raises(TwilioRestException) as err:
        client.calls("CA" + "0" * 32).fetch()
    assert err.value.status == 401 and err.value.code == 20003
    resp = requests.get(api(sim_server, "/Calls.json"), timeout=10)
    assert_error(resp, 401, 20003)


@pytest.mark.parametrize(("data", "code"), [
    ({"From": "+15550000000", "Twiml": HOLD}, 21201),
    ({"To": "+15550000001", "Twiml": HOLD}, 21213),
    ({"To": "+15550000001", "From": "+15550000000"}, 21205),
    ({"To": "+15550000001", "From": "+15550000000", "Url": "ftp://x/y"}, 21205),
    ({"To": "+15550000001", "From": "+15550000000", "Url": "http://x/y", "Twiml": HOLD}, 20001),
    ({"To": "not a number", "From": "+15550000000", "Twiml": HOLD}, 21211),
    ({"To": "+15550000001", "From": "+15550000000", "ApplicationSid": "AP" + "0" * 32}, 21218),
])
def test_call_create_refusals(sim_server, data, code):
    assert_error(post(sim_server, "/Calls.json", data), 400, code)


def test_unknown_resources_are_20404(sim_server):
    client = sdk_client(sim_server.base_url, sim_server.account_sid, sim_server.auth_token)
    for fetch in (client.calls("CA" + "0" * 32).fetch, client.conferences("CF" + "0" * 32).fetch,
                  client.applications("AP" + "0" * 32).fetch,
                  client.conferences("CF" + "0" * 32).participants("x").fetch):
        with pytest.raises(TwilioRestException) as err:
            fetch()
        assert err.value.status == 404 and err.value.code == 20404
    resp = post(sim_server, "/Conferences/CF" + "0" * 32 + "/Participants.json",
                {"To": "+15550000001", "From": "+15550000000"})
    assert_error(resp, 404, 20404)
    assert_error(requests.get(f"{sim_server.base_url}/nope", timeout=10), 404, 20404)


def test_updates_to_a_completed_call_are_21220(sim_server):
    client = sdk_client(sim_server.base_url, sim_server.account_sid, sim_server.auth_token)
    call = client.calls.create(to="+15550000009", from_="+15550000000", twiml=HOLD)
    wait_for(lambda: client.calls(call.sid).fetch().status == "in-progress", 10)
    client.calls(call.sid).update(status="completed")
    wait_for(lambda: client.calls(call.sid).fetch().status == "completed", 10)
    for update in ({"Twiml": HOLD}, {"Status": "completed"}, {"Url": "http://127.0.0.1:9/x"}):
        assert_error(post(sim_server, f"/Calls/{call.sid}.json", update), 400, 21220)
    resp = post(sim_server, f"/Calls/{call.sid}/Streams.json", {"Url": "wss://example.com/f"})
    assert_error(resp, 400, 21220)


def test_participant_refusals(sim_server):
    base = "/Conferences/refusals/Participants.json"
    first = post(sim_server, base, {"To": "+15550000021", "From": "+15550000000", "Label": "a"})
    assert first.status_code == 201
    cf = first.json()["conference_sid"]
    path = f"/Conferences/{cf}/Participants.json"
    dup = post(sim_server, path, {"To": "+15550000022", "From": "+15550000000", "Label": "a"})
    assert_error(dup, 400, 16026)  # errors/16026 over REST (16025 is the TwiML one)
    for bad in ("CA" + "a" * 32, "a/b", "x" * 129):
        assert_error(post(sim_server, path, {"To": "+15550000022", "From": "+15550000000",
                                             "Label": bad}), 400, 20001)
    coach = post(sim_server, path, {"To": "+15550000023", "From": "+15550000000",
                                    "Coaching": "true", "CallSidToCoach": "CA" + "1" * 32})
    assert_error(coach, 400, 13240)
    ringing = post(sim_server, path, {"To": "+15550000023", "From": "+15550000000",
                                      "CallSidToCoach": first.json()["call_sid"]})
    assert_error(ringing, 400, 13240)  # listed, but not connected to an in-progress conference
    assert_error(post(sim_server, path, {"From": "+15550000000"}), 400, 21201)
    assert_error(post(sim_server, path, {"To": "app:AP" + "9" * 32, "From": "+1555"}), 400, 21218)
    assert_error(post(sim_server, path, {"To": "+15550000024", "From": "+15550000000",
                                         "Muted": "maybe"}), 400, 20001)
    ended = post(sim_server, f"/Conferences/{cf}.json", {"Status": "completed"})
    assert ended.status_code == 200
    assert_error(post(sim_server, f"/Conferences/{cf}.json", {"Status": "completed"}), 404, 20404)


PATHS = st.sampled_from([
    "/Calls.json", "/Calls/CA{x}.json", "/Calls/CA{x}/Streams.json",
    "/Calls/CA{x}/Streams/fork.json", "/Conferences.json", "/Conferences/{x}.json",
    "/Conferences/{x}/Participants.json", "/Conferences/CF{x}/Participants/{x}.json",
    "/Applications.json", "/Applications/AP{x}.json", "/{x}",
])
KEYS = st.sampled_from(["To", "From", "Url", "Twiml", "Status", "Muted", "Hold", "Coaching",
                        "CallSidToCoach", "Label", "Beep", "Track", "Name", "Parameter1.Name",
                        "StatusCallbackEvent", "ApplicationSid", "VoiceUrl", "PageSize", "Page",
                        "ConferenceStatusCallback", "StartConferenceOnEnter", "Method"])
VALUES = st.one_of(st.text(max_size=40), st.sampled_from(
    ["true", "false", "completed", "+15550000000", "client:x", "app:AP" + "0" * 32,
     "http://127.0.0.1:9/x", "wss://127.0.0.1:9/x", "<Response><Hangup/></Response>",
     "<Response><Bogus/>", "-1", "99999999999", "both_tracks"]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(method=st.sampled_from(["GET", "POST", "DELETE", "PUT"]), path=PATHS,
       sid=st.text(alphabet="0123456789abcdef%/.", max_size=34),
       form=st.dictionaries(KEYS, VALUES, max_size=6))
def test_fuzz_rest_never_crashes(sim_server, method, path, sid, form):
    url = api(sim_server, path.replace("{x}", sid))
    resp = requests.request(method, url, data=form, timeout=10,
                            auth=(sim_server.account_sid, sim_server.auth_token))
    assert resp.status_code < 500, (method, url, form, resp.text)
    if resp.status_code >= 400:
        assert {"code", "message", "more_info", "status"} <= set(resp.json())


CONTROL = st.sampled_from([
    "/sim/phones", "/sim/phones/{x}/say", "/sim/phones/{x}/play", "/sim/phones/{x}/tone",
    "/sim/phones/{x}/dtmf", "/sim/phones/{x}/hangup", "/sim/phones/{x}/answer",
    "/sim/phones/{x}/recording/start", "/sim/phones/{x}/recording/{x}",
    "/sim/phones/{x}/recording.wav", "/sim/calls", "/sim/calls/inbound",
    "/sim/streams/{x}/restart", "/sim/streams/{x}/{x}", "/sim/stats", "/sim/callbacks",
])
JSON_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                        st.floats(allow_nan=True), st.text(max_size=20),
                        st.sampled_from(["hello.wav", "../../etc/passwd", "UklGRg==", "12#*",
                                         "busy", "http://127.0.0.1:9/x"]))
BODIES = st.one_of(
    st.dictionaries(st.sampled_from(["text", "fixture", "wav_base64", "freq", "ms", "dbfs",
                                     "digits", "after", "mode", "ring_seconds", "from", "to",
                                     "url", "method", "delay_ms", "jitter_ms"]),
                    JSON_VALUES, max_size=5),
    st.lists(st.integers(), max_size=3), st.text(max_size=30))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(method=st.sampled_from(["GET", "POST"]), path=CONTROL,
       number=st.text(alphabet="+0123456789abc:%", min_size=1, max_size=16), payload=BODIES)
def test_fuzz_control_api_never_crashes(sim_server, method, path, number, payload):
    url = sim_server.base_url + path.replace("{x}", number)
    data = payload if isinstance(payload, str) else json.dumps(payload)
    resp = requests.request(method, url, data=data, timeout=30,
                            headers={"Content-Type": "application/json"})
    assert resp.status_code < 500, (method, url, data, resp.text)


@pytest.mark.parametrize("text", ["", "   "])
def test_saying_nothing_is_400_with_the_reason(sim_server, text):
    resp = requests.post(sim_server.base_url + "/sim/phones/+15550001111/say", timeout=10,
                         json={"text": text})  # found by the fuzz test above: it was a 500
    assert resp.status_code == 400 and "empty" in resp.text


def test_blank_speech_synthesizes_to_silence_not_an_error():
    assert synthesize("") == b"" and synthesize(" \n\t") == b""  # an empty <Say></Say>


def test_still_alive_after_fuzz(sim_server):
    assert requests.get(sim_server.base_url + "/", timeout=10).status_code == 200
    assert sim_server.process.poll() is None
