"""The TwiML parser: documents built by the real twilio TwiML helpers, and what it refuses."""
from __future__ import annotations

import pytest
from twilio.twiml.voice_response import Connect, Dial, Start, Stop, VoiceResponse

from twilio_sim import twiml


def test_fork_then_conference_from_sdk_builders():
    resp = VoiceResponse()
    start = Start()
    stream = start.stream(name="fork-1", url="wss://ex.com/fork", track="both_tracks",
                          status_callback="https://ex.com/ss")
    stream.parameter(name="role", value="customer")
    resp.append(start)
    dial = Dial(action="https://ex.com/after")
    dial.conference("room-42", muted=True, beep="false", start_conference_on_enter=False,
                    end_conference_on_exit=True, coach="CA" + "1" * 32,
                    participant_label="sup", status_callback="https://ex.com/conf",
                    status_callback_event="start end join", wait_url="")
    resp.append(dial)
    fork, conf = twiml.parse(str(resp))
    assert fork == twiml.StartStream(twiml.StreamSpec(
        "wss://ex.com/fork", "fork-1", "both_tracks", "https://ex.com/ss", "POST",
        {"role": "customer"}))
    assert conf.name == "room-42" and conf.muted and conf.beep == "false"
    assert not conf.start_conference_on_enter and conf.end_conference_on_exit
    assert conf.coach == "CA" + "1" * 32 and conf.participant_label == "sup"
    assert conf.status_callback_event == ("start", "end", "join")
    assert conf.action == "https://ex.com/after" and conf.wait_url == ""


def test_connect_stop_say_play_pause_redirect_hangup():
    resp = VoiceResponse()
    resp.say("Hello there", loop=2)
    resp.play("https://ex.com/a.wav")
    resp.pause(length=3)
    stop = Stop()
    stop.stream(name="fork-1")
    resp.append(stop)
    connect = Connect()
    connect.stream(url="wss://ex.com/ai").parameter(name="conf", value="r")
    resp.append(connect)
    resp.redirect("/next", method="GET")
    resp.hangup()
    verbs = twiml.parse(str(resp))
    assert verbs[0] == twiml.Say("Hello there", 2)
    assert verbs[1] == twiml.Play("https://ex.com/a.wav")
    assert verbs[2] == twiml.Pause(3.0)
    assert verbs[3] == twiml.StopStream("fork-1")
    assert verbs[4].stream.parameters == {"conf": "r"}
    assert verbs[5] == twiml.Redirect("/next", "GET") and verbs[6] == twiml.Hangup()


def test_relative_stream_url_is_allowed():
    doc = '<Response><Connect><Stream url="/ai"/></Connect></Response>'
    assert twiml.parse(doc)[0].stream.url == "/ai"


@pytest.mark.parametrize("doc", [
    "<Response><Say>unterminated</Response>",
    "not xml at all",
    "<Foo/>",
    "<Response><Gather/></Response>",
    "<Response><Enqueue>q</Enqueue></Response>",
    '<Response><Connect><Stream url="wss://x/y" track="both_tracks"/></Connect></Response>',
    '<Response><Start><Stream url="https://x/y"/></Start></Response>',
    '<Response><Start><Stream url="wss://x/y?a=1"/></Start></Response>',
    '<Response><Start><Stream url="wss://x/y"><Foo/></Stream></Start></Response>',
    "<Response><Dial>+15550000000</Dial></Response>",
    '<Response><Dial><Conference muted="sometimes">r</Conference></Dial></Response>',
    '<Response><Pause length="-1"/></Response>',
    "<Response><Play/></Response>",
])
def test_bad_documents_raise(doc):
    with pytest.raises(twiml.TwimlError):
        twiml.parse(doc)


def test_empty_response_is_no_verbs():
    assert twiml.parse("<Response/>") == []
