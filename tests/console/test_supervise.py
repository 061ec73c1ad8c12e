"""The browser supervisor from the console's side: its socket dials an app: leg (muted) and
removes it when it closes; the Voice URL answers that leg a stream bound to its call; modes
switch only from the page's own endpoint; refusals come before the upgrade."""
from __future__ import annotations

import contextlib
import json
import re
from urllib.parse import parse_qsl

import sqlalchemy as sa
from simple_websocket import Client, ConnectionClosed
from twilio.request_validator import RequestValidator

from conference.twilio.security import read_stream_token, stream_token_keys
from models import Participant, get_session
from twilio_sim.testing import wait_for

UPGRADE = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
           "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
OTHER_CALL = "CA" + "6" * 32


def open_page(console, port: int) -> Client:
    cookie = console.client.get_cookie("session").value
    # simple_websocket's client sends `Host: 127.0.0.1` without the port; Origin must match it.
    return Client.connect(f"ws://127.0.0.1:{port}/console/supervise/room",
                          headers={"Cookie": f"session={cookie}", "Origin": "http://127.0.0.1"})


def close(ws) -> None:
    # The server may have closed it first; then simple-websocket's reader thread may already
    # have closed the descriptor while `connected` still reads True (EBADF on the close frame).
    with contextlib.suppress(ConnectionClosed, OSError):
        ws.close()


def notice(ws) -> dict:
    message = ws.receive(timeout=10)
    assert isinstance(message, str), message
    return json.loads(message)


def dialed(fake_twilio):
    return [r for r in fake_twilio.take() if r.operation_id == "CreateParticipant"]


def claims(app, token: str) -> dict:
    return read_stream_token(stream_token_keys(app.config), token,
                             app.config["STREAM_TOKEN_TTL_S"])


def test_the_page_socket_dials_a_muted_app_leg_and_removes_it_on_close(
        twilio_app, room, console_as, server, fake_twilio):
    console = console_as("acme", "sup@acme.test")
    ws = open_page(console, server)
    try:
        first = notice(ws)
        assert first["type"] == "dialing" and re.fullmatch(r"console-\d+", first["label"])
        (create,) = dialed(fake_twilio)
        form = create.form
        assert (form["Label"], form["Muted"], form["Beep"]) == (first["label"], "true", "false")
        assert "Coaching" not in form
        address, _, query = form["To"].partition("?")
        assert address == "app:" + twilio_app.config["TWILIO_TWIML_APP_SID"]
        params = dict(parse_qsl(query))
        assert params["leg"] == "supervisor" and params["label"] == first["label"]
        token = claims(twilio_app, params["token"])
        assert token["kind"] == "supervisor" and token["label"] == first["label"]
        assert "call" not in token  # a dial token opens no stream
        assert token["user"] == int(first["label"].split("-")[1])

        # A second page of the same user is refused; the first keeps its leg.
        second = open_page(console, server)
        try:
            assert notice(second)["code"] == "already_supervising"
        finally:
            close(second)
        assert dialed(fake_twilio) == []
    finally:
        close(ws)
    wait_for(lambda: "DeleteParticipant" in fake_twilio.ops(), 10,
             message="the leg removed when the page closed")


def test_the_voice_url_answers_the_leg_a_stream_bound_to_its_call(
        twilio_app, room, console_as, server, fake_twilio):
    ws = open_page(console_as("acme", "sup@acme.test"), server)
    try:
        label = notice(ws)["label"]
        to = dialed(fake_twilio)[0].form["To"]
        call_sid = leg_call_sid(twilio_app, label)
        params = dict(parse_qsl(to.partition("?")[2]), CallSid=call_sid,
                      AccountSid=twilio_app.config["TWILIO_ACCOUNT_SID"])
        answer = post_voice(twilio_app, params)
        assert answer.status_code == 200, answer.get_data(as_text=True)
        body = answer.get_data(as_text=True)
        assert 'url="wss://forkline.test/twilio/supervisor-stream"' in body
        assert f'name="{label}"' in body and "action=" not in body
        token = re.search(r'name="token" value="([^"]+)"', body).group(1)
        bound = claims(twilio_app, token)
        assert (bound["kind"], bound["call"], bound["label"]) == ("supervisor", call_sid, label)

        bad = post_voice(twilio_app, dict(params, token="forged"))
        # An app: leg's far side is the conference: bad input is a silent <Hangup/> (rule 6).
        assert bad.status_code == 200 and "<Hangup" in bad.get_data(as_text=True)
        assert "<Connect" not in bad.get_data(as_text=True)
        other = post_voice(twilio_app, dict(params, CallSid=OTHER_CALL))
        assert "<Hangup" in other.get_data(as_text=True)  # not the call dialed for this label
    finally:
        close(ws)


def leg_call_sid(app, label: str) -> str:
    with app.app_context():
        return get_session().scalar(sa.select(Participant.call_sid).where(
            Participant.label == label))


def post_voice(app, params: dict):
    url = "https://forkline.test/twilio/ai/voice"
    signature = RequestValidator(app.config["TWILIO_AUTH_TOKEN"]).compute_signature(url, params)
    return app.test_client().post("/twilio/ai/voice", data=params,
                                  headers={"X-Twilio-Signature": signature})


def test_modes_switch_from_the_page_only(twilio_app, room, console_as, server, fake_twilio):
    console = console_as("acme", "sup@acme.test")
    assert console.action("room/browser/mode", {"mode": "barge"}).status_code == 404  # no leg
    ws = open_page(console, server)
    try:
        label = notice(ws)["label"]
        fake_twilio.take()
        assert console.action("room/browser/mode", {"mode": "barge"},
                              token=False).status_code == 400  # no CSRF token
        barge = console.action("room/browser/mode", {"mode": "barge"})
        assert barge.status_code == 200, barge.json
        assert (barge.json["mode"], barge.json["muted"]) == ("barge", False)
        (update,) = [r for r in fake_twilio.take() if r.operation_id == "UpdateParticipant"]
        assert update.form["Muted"] == "false"
        # The agent has not joined: a whisper to it waits, muted (issue 9's coach rule).
        whisper = console.action("room/browser/mode", {"mode": "whisper", "coach": "agent"})
        assert whisper.status_code == 200, whisper.json
        assert (whisper.json["muted"], whisper.json["coaching"], whisper.json["pending"]) == \
            (True, False, True)
        # Nobody else switches this browser's microphone (the generic supervisor endpoint).
        boss = console_as("acme", "boss@acme.test")
        other = boss.action(f"room/supervisors/{label}/mode", {"mode": "barge"})
        assert other.status_code == 409 and other.json["error"]["code"] == "browser_supervisor"
        assert boss.action("room/browser/mode", {"mode": "barge"}).status_code == 404
        bad = console.action("room/browser/mode", {"mode": "shout"})
        assert bad.status_code == 422
    finally:
        close(ws)


def test_supervise_refusals_happen_before_the_upgrade(twilio_app, room, console_as):
    path = "/console/supervise/room"
    origin = {"Origin": "http://localhost"}
    assert twilio_app.test_client().get(path, headers=UPGRADE | origin).status_code == 401
    other = console_as("globex", "boss@globex.test").client
    assert other.get(path, headers=UPGRADE | origin).status_code == 404
    acme = console_as("acme", "sup@acme.test").client
    assert acme.get(path, headers=UPGRADE | {"Origin": "https://evil.test"}).status_code == 403
