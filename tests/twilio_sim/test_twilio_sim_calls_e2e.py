"""TwiML execution end to end: inbound calls, forks, <Connect>, <Dial><Conference>, callbacks."""
from __future__ import annotations

import base64
import json

import pytest
from sim_servers import events

from twilio_sim.audio import (
    read_wav_ulaw,
    tone_level_dbfs,
    tone_ulaw,
    ulaw_dbfs,
    ulaw_to_pcm,
    wav_from_ulaw,
)
from twilio_sim.testing import sdk_client, wait_for

pytestmark = pytest.mark.slow


def call_info(sim_server, sid: str) -> dict:
    """The /sim/calls entry of a call."""
    return next(c for c in sim_server.control.calls() if c["sid"] == sid)


def wait_call_status(sim_server, sid: str, status: str) -> dict:
    """Poll /sim/calls until the call has `status`."""
    return wait_for(lambda: (c := call_info(sim_server, sid))["status"] == status and c, 15,
                    message=f"{sid} {status}")


def test_inbound_call_runs_fork_say_stop_redirect_hangup(sim_server, webhooks, media_server):
    webhooks.routes["/voice"] = (
        f'<Response><Start><Stream name="f1" url="{media_server.url("/fork")}" '
        f'statusCallback="{webhooks.url("/stream-status")}"><Parameter name="who" value="caller"/>'
        '</Stream></Start><Say>Hello</Say><Stop><Stream name="f1"/></Stop>'
        '<Redirect>/two</Redirect></Response>')
    webhooks.routes["/two"] = "<Response><Hangup/></Response>"
    call = sim_server.control.inbound_call("+15550300001", "+15550300000", webhooks.url("/voice"))
    first = webhooks.requests.wait_for(lambda r: r["path"] == "/voice")
    assert first["valid"] and first["form"]["Direction"] == "inbound"
    assert first["form"]["CallStatus"] == "ringing"
    assert first["form"]["From"] == "+15550300001" and first["form"]["CallSid"] == call["sid"]
    conn = media_server.connections.wait_for(lambda c: c["path"] == "/fork")
    start = conn["messages"].wait_for(lambda m: m["event"] == "start")
    assert start["start"]["customParameters"] == {"who": "caller"}
    conn["messages"].wait_for(lambda m: m["event"] == "stop")
    webhooks.requests.wait_for(lambda r: r["path"] == "/two")
    wait_call_status(sim_server, call["sid"], "completed")
    statuses = webhooks.requests.wait_for(
        lambda r: r["path"] == "/stream-status" and r["form"]["StreamEvent"] == "stream-stopped")
    assert statuses["valid"] and statuses["form"]["StreamName"] == "f1"
    assert "T" in statuses["form"]["Timestamp"]  # ISO 8601


def test_bad_twiml_ends_the_call(sim_server, webhooks):
    webhooks.routes["/bad"] = "<Response><Bogus/></Response>"
    call = sim_server.control.inbound_call("+15550300002", "+15550300000", webhooks.url("/bad"))
    info = wait_call_status(sim_server, call["sid"], "completed")
    assert "Bogus" in info["error"]


def test_call_status_callbacks_in_order(sim_server, webhooks):
    client = sdk_client(sim_server.base_url, sim_server.account_sid, sim_server.auth_token)
    call = client.calls.create(to="+15550300003", from_="+15550300000",
                               twiml="<Response><Pause length=\"1\"/></Response>",
                               status_callback=webhooks.url("/status"),
                               status_callback_event=["initiated", "ringing", "answered",
                                                      "completed"])
    done = webhooks.requests.wait_for(lambda r: r["path"] == "/status"
                                      and r["form"]["CallStatus"] == "completed")
    hooks = webhooks.requests.matching(lambda r: r["path"] == "/status")
    assert all(h["valid"] and h["form"]["CallSid"] == call.sid for h in hooks)
    assert sorted((h["form"]["SequenceNumber"], h["form"]["CallStatus"]) for h in hooks) == [
        ("0", "initiated"), ("1", "ringing"), ("2", "in-progress"), ("3", "completed")]
    assert done["form"]["CallDuration"] == "1"


def test_connect_stream_marks_dtmf_and_close(sim_server, webhooks, media_server):
    media_server.reply_audio = b"\x00" * 8000  # 1 s of audio, then a mark
    media_server.reply_mark = "after-1s"
    webhooks.routes["/ai"] = (f'<Response><Connect><Stream url="{media_server.url("/ai")}"/>'
                              '</Connect><Redirect>/after</Redirect></Response>')
    webhooks.routes["/after"] = "<Response><Hangup/></Response>"
    call = sim_server.control.inbound_call("+15550300004", "+15550300000", webhooks.url("/ai"))
    conn = media_server.connections.wait_for(lambda c: c["path"] == "/ai")
    echo = conn["messages"].wait_for(lambda m: m["event"] == "mark", timeout=15)
    assert echo["mark"]["name"] == "after-1s"
    media = events(conn, "media")
    assert len(media) >= 45, "the mark is echoed only after ~1 s of audio has played"
    ws, sid = conn["ws"], echo["streamSid"]
    ws.send(json.dumps({"event": "mark", "streamSid": sid, "mark": {"name": "empty"}}))
    conn["messages"].wait_for(lambda m: m.get("mark", {}).get("name") == "empty")
    payload = base64.b64encode(b"\x00" * 80000).decode()
    ws.send(json.dumps({"event": "media", "streamSid": sid, "media": {"payload": payload}}))
    ws.send(json.dumps({"event": "mark", "streamSid": sid, "mark": {"name": "pending"}}))
    ws.send(json.dumps({"event": "clear", "streamSid": sid}))
    conn["messages"].wait_for(lambda m: m.get("mark", {}).get("name") == "pending")
    ws.send("not json")  # dropped with a warning; the call stays up
    sim_server.control.dtmf("+15550300004", "42")
    digits = [conn["messages"].wait_for(lambda m, n=n: m["event"] == "dtmf"
                                        and len(events(conn, "dtmf")) >= n)
              for n in (1, 2)]
    assert [d["dtmf"]["digit"] for d in events(conn, "dtmf")] == ["4", "2"] and digits
    assert call_info(sim_server, call["sid"])["status"] == "in-progress"
    ws.close()
    webhooks.requests.wait_for(lambda r: r["path"] == "/after")
    wait_call_status(sim_server, call["sid"], "completed")


def test_dial_conference_end_on_exit(sim_server, webhooks):
    conf_twiml = ('<Response><Dial action="/dialed"><Conference endConferenceOnExit="{end}" '
                  'statusCallback="/conf" statusCallbackEvent="start end join leave">'
                  'twiml-room</Conference></Dial></Response>')
    webhooks.routes["/dialed"] = "<Response><Redirect>/after</Redirect></Response>"
    webhooks.routes["/host"] = conf_twiml.format(end="true")
    webhooks.routes["/guest"] = conf_twiml.format(end="false")
    webhooks.routes["/after"] = "<Response><Hangup/></Response>"
    host = sim_server.control.inbound_call("+15550300005", "+15550300000", webhooks.url("/host"))
    guest = sim_server.control.inbound_call("+15550300006", "+15550300000",
                                            webhooks.url("/guest"))
    webhooks.requests.wait_for(lambda r: r["path"] == "/conf"
                               and r["form"]["StatusCallbackEvent"] == "conference-start")
    sim_server.control.hangup("+15550300005")
    end = webhooks.requests.wait_for(lambda r: r["path"] == "/conf"
                                     and r["form"]["StatusCallbackEvent"] == "conference-end")
    assert end["form"]["ReasonConferenceEnded"] == "participant-with-end-conference-on-exit-left"
    assert end["form"]["CallSidEndingConference"] == host["sid"]
    dialed = webhooks.requests.wait_for(lambda r: r["path"] == "/dialed")
    assert dialed["form"]["CallSid"] == guest["sid"], "the guest continues at the Dial action"
    assert dialed["form"]["DialCallStatus"] == "completed" and dialed["valid"]
    webhooks.requests.wait_for(lambda r: r["path"] == "/after")
    wait_call_status(sim_server, guest["sid"], "completed")


def test_phone_hangs_up_after_n_seconds(sim_server, webhooks):
    webhooks.routes["/long"] = '<Response><Pause length="600"/></Response>'
    call = sim_server.control.inbound_call("+15550300007", "+15550300000", webhooks.url("/long"))
    wait_call_status(sim_server, call["sid"], "in-progress")
    sim_server.control.hangup("+15550300007", after=0.5)
    wait_call_status(sim_server, call["sid"], "completed")


def test_stream_faults_kill_and_delay(sim_server, webhooks, media_server):
    webhooks.routes["/long"] = '<Response><Pause length="600"/></Response>'
    call = sim_server.control.inbound_call("+15550300008", "+15550300000", webhooks.url("/long"))
    wait_call_status(sim_server, call["sid"], "in-progress")
    client = sdk_client(sim_server.base_url, sim_server.account_sid, sim_server.auth_token)
    stream = client.calls(call["sid"]).streams.create(url=media_server.url("/faulty"),
                                                      name="faulty")
    first = media_server.connections.wait_for(lambda c: c["path"] == "/faulty")
    first["messages"].wait_for(lambda m: m["event"] == "media")
    delayed = sim_server.control.stream_fault(stream.sid, "delay", delay_ms=200, jitter_ms=50,
                                              to_caller_ms=100, playout_start_ms=40)
    assert (delayed["delay_ms"], delayed["to_caller_ms"]) == (200, 100)
    assert sim_server.control.stream_fault(stream.sid, "kill")["killed"]
    entry = wait_for(lambda: (s := call_info(sim_server, call["sid"])["streams"][0])[
        "status"] == "stopped" and s, 10)
    assert entry["error"].startswith("31924")  # lost: Twilio does not reconnect a fork
    assert not events(first, "stop"), "a killed socket gets no stop"
    with pytest.raises(Exception, match="faulty"):  # names are unique per call, ended too
        client.calls(call["sid"]).streams.create(url=media_server.url("/faulty"), name="faulty")
    client.calls(call["sid"]).update(status="completed")
    wait_call_status(sim_server, call["sid"], "completed")


def test_a_calls_update_takes_the_ai_leg_out_of_its_conference(sim_server, webhooks,
                                                                media_server):
    # conference-participant-resource: no participant "modified to use new TwiML"; twiml/stream:
    # the bidirectional stream ends when the call is updated with new TwiML.
    client = sdk_client(sim_server.base_url, sim_server.account_sid, sim_server.auth_token)
    webhooks.routes["/ai"] = (f'<Response><Connect><Stream url="{media_server.url("/ai-1")}"/>'
                              "</Connect></Response>")
    app = client.applications.create(voice_url=webhooks.url("/ai"))
    room = client.conferences("redirect-room").participants
    human = room.create(from_="+15550300000", to="+15550300010",
                        conference_status_callback=webhooks.url("/redirect-events"),
                        conference_status_callback_event=["join", "leave"])
    ai = client.conferences(human.conference_sid).participants.create(
        from_="+15550300000", to=f"app:{app.sid}", label="ai")
    first = media_server.connections.wait_for(lambda c: c["path"] == "/ai-1")
    first["messages"].wait_for(lambda m: m["event"] == "start")
    client.calls(ai.call_sid).update(
        twiml=f'<Response><Connect><Stream url="{media_server.url("/ai-2")}"/></Connect>'
              "</Response>")
    first["messages"].wait_for(lambda m: m["event"] == "stop")
    left = webhooks.requests.wait_for(
        lambda r: r["path"] == "/redirect-events"
        and r["form"]["StatusCallbackEvent"] == "participant-leave")
    assert (left["form"]["CallSid"], left["form"]["ReasonParticipantLeft"]) == (
        ai.call_sid, "participant_updated_via_api")
    second = media_server.connections.wait_for(lambda c: c["path"] == "/ai-2")
    start = second["messages"].wait_for(lambda m: m["event"] == "start")
    assert start["start"]["callSid"] == ai.call_sid  # the new TwiML runs on the same call
    labels = [p.label for p in client.conferences(human.conference_sid).participants.list()]
    assert "ai" not in labels
    client.calls(ai.call_sid).update(status="completed")
    second["messages"].wait_for(lambda m: m["event"] == "stop")
    wait_call_status(sim_server, ai.call_sid, "completed")
    client.conferences(human.conference_sid).update(status="completed")


def test_conference_ended_while_a_participant_rings(sim_server):
    client = sdk_client(sim_server.base_url, sim_server.account_sid, sim_server.auth_token)
    first = client.conferences("short-room").participants.create(from_="+15550300000",
                                                                 to="+15550300011")
    late = client.conferences(first.conference_sid).participants.create(
        from_="+15550300000", to="+15550300012")
    client.conferences(first.conference_sid).update(status="completed")
    assert client.conferences(first.conference_sid).participants.list() == []
    for sid in (first.call_sid, late.call_sid):
        wait_for(lambda s=sid: client.calls(s).fetch().status in ("completed", "canceled"), 10)


def test_busy_and_unanswered_phones(sim_server, webhooks):
    client = sdk_client(sim_server.base_url, sim_server.account_sid, sim_server.auth_token)
    sim_server.control.answer_mode("+15550300020", "busy")
    sim_server.control.answer_mode("+15550300021", "no-answer", ring_seconds=0.5)
    call = client.calls.create(to="+15550300020", from_="+15550300000", twiml="<Response/>",
                               status_callback=webhooks.url("/busy"))
    hook = webhooks.requests.wait_for(lambda r: r["path"] == "/busy")
    assert hook["form"]["CallStatus"] == "busy" and hook["form"]["CallSid"] == call.sid
    assert client.calls(call.sid).fetch().status == "busy"
    part = client.conferences("unanswered").participants.create(from_="+15550300000",
                                                                to="+15550300021")
    assert [p.call_sid for p in client.conferences(part.conference_sid).participants.list()] \
        == [part.call_sid], "listed while it rings"
    wait_for(lambda: client.calls(part.call_sid).fetch().status == "no-answer", 10)
    assert client.conferences(part.conference_sid).participants.list() == []
    assert client.conferences(part.conference_sid).fetch().status == "completed"


def test_say_play_and_scripted_phone_audio(sim_server, webhooks, media_server):
    webhooks.routes["/tone.wav"] = wav_from_ulaw(tone_ulaw(900.0, 500, -12.0))
    webhooks.routes["/greet"] = ('<Response><Say>Welcome to the simulator</Say>'
                                 '<Play>/tone.wav</Play>'
                                 f'<Connect><Stream url="{media_server.url("/listen")}"/>'
                                 '</Connect></Response>')
    number = "+15550300030"
    sim_server.control.record(number, "start")
    call = sim_server.control.inbound_call(number, "+15550300000", webhooks.url("/greet"))
    conn = media_server.connections.wait_for(lambda c: c["path"] == "/listen")
    sim_server.control.play_fixture(number, "hello.wav")
    wait_for(lambda: len(events(conn, "media")) >= 100, 15, message="2 s of caller audio")
    sim_server.control.record(number, "stop")
    heard = read_wav_ulaw(sim_server.control.recording_wav(number))
    assert ulaw_dbfs(heard[:8000]) > -40, "the <Say> speech was heard"
    assert tone_level_dbfs(ulaw_to_pcm(heard), 900.0, window_ms=200) > -20, "<Play> was heard"
    caller = b"".join(base64.b64decode(m["media"]["payload"]) for m in events(conn, "media"))
    assert ulaw_dbfs(caller) > -45, "the fixture the phone spoke reached the stream"
    sim_server.control.hangup(number)
    wait_call_status(sim_server, call["sid"], "completed")
