"""Twilio's documented refusals and side effects, end to end through the real SDK.

Each test names the Twilio page its rule comes from; twilio_sim/README.md lists them.
"""
from __future__ import annotations

import pytest
from sim_servers import events
from twilio.base.exceptions import TwilioRestException

from twilio_sim.audio import read_wav_ulaw, tone_level_dbfs, ulaw_to_pcm
from twilio_sim.testing import running_sim, wait_for

pytestmark = pytest.mark.slow


def call_info(sim, sid: str) -> dict:
    """The /sim/calls entry of a call."""
    return next(c for c in sim.control.calls() if c["sid"] == sid)


def connected(client, cf: str, n: int) -> None:
    """Wait until `n` participants are connected and the conference is in progress."""
    wait_for(lambda: len([p for p in client.conferences(cf).participants.list()
                          if p.status == "connected"]) == n
             and client.conferences(cf).fetch().status == "in-progress", 10,
             message=f"{n} connected")


def conf_events(webhooks, path: str, name: str) -> list[dict]:
    """Conference callbacks of one kind received so far."""
    return [r["form"] for r in webhooks.requests.matching(
        lambda r: r["path"] == path and r["form"].get("StatusCallbackEvent") == name)]


def test_coaching_a_ringing_call_is_13240_then_allowed_once_it_joined(sim_server, webhooks):
    # conference-participant-resource (CallSidToCoach), errors/13240
    client = sim_server.client()
    sim_server.control.answer_mode("+15550700002", ring_seconds=1.0)
    customer = client.conferences("coach-room").participants.create(
        from_="+15550700000", to="+15550700001", label="customer")
    agent = client.conferences(customer.conference_sid).participants.create(
        from_="+15550700000", to="+15550700002", label="agent")
    with pytest.raises(TwilioRestException) as refused:
        client.conferences(customer.conference_sid).participants.create(
            from_="+15550700000", to="+15550700003", coaching=True,
            call_sid_to_coach=agent.call_sid)
    assert refused.value.code == 13240 and refused.value.status == 400
    client.conferences(customer.conference_sid).participants.create(
        from_="+15550700000", to="+15550700003", muted=True, label="sup")
    connected(client, customer.conference_sid, 3)
    on = client.conferences(customer.conference_sid).participants("sup").update(
        coaching=True, call_sid_to_coach=agent.call_sid, muted=False)
    assert on.coaching and on.call_sid_to_coach == agent.call_sid
    client.conferences(customer.conference_sid).participants("agent").update(hold=True)
    with pytest.raises(TwilioRestException) as held:  # errors/16027
        client.conferences(customer.conference_sid).participants("sup").update(
            call_sid_to_coach=agent.call_sid)
    assert held.value.code == 16027
    client.conferences(customer.conference_sid).update(status="completed")


def test_twiml_coach_of_a_call_not_in_the_conference_fails_to_the_dial_action(
        sim_server, webhooks):
    # twiml/conference#coach: an invalid CallSid "fails to the Dial action" with 13240
    webhooks.routes["/coach"] = (
        '<Response><Dial action="/after"><Conference coach="CA' + "b" * 32 + '">'
        "twiml-coach</Conference></Dial></Response>")
    webhooks.routes["/after"] = "<Response><Hangup/></Response>"
    call = sim_server.control.inbound_call("+15550700010", "+15550700000",
                                           webhooks.url("/coach"))
    after = webhooks.requests.wait_for(lambda r: r["path"] == "/after")
    assert after["valid"] and after["form"]["DialCallStatus"] == "failed"
    assert call_info(sim_server, call["sid"])["error"].startswith("13240")


def test_twiml_duplicate_label_is_16025_and_the_next_verb_runs(sim_server, webhooks):
    # twiml/conference#participantlabel
    client = sim_server.client()
    first = client.conferences("label-room").participants.create(
        from_="+15550700000", to="+15550700020", label="agent")
    connected_one = wait_for(lambda: [p for p in client.conferences(
        first.conference_sid).participants.list() if p.status == "connected"], 10)
    assert connected_one
    webhooks.routes["/dup"] = ('<Response><Dial><Conference participantLabel="agent">'
                               'label-room</Conference></Dial><Redirect>/next</Redirect>'
                               "</Response>")
    webhooks.routes["/next"] = "<Response><Hangup/></Response>"
    call = sim_server.control.inbound_call("+15550700021", "+15550700000", webhooks.url("/dup"))
    webhooks.requests.wait_for(lambda r: r["path"] == "/next")
    assert call_info(sim_server, call["sid"])["error"].startswith("16025")
    client.conferences(first.conference_sid).update(status="completed")


def test_killed_connect_socket_requests_the_action_url_and_a_new_stream_follows(
        sim_server, webhooks, media_server):
    # twiml/connect#action: requested when <Connect> ends; twiml/stream#name: unique per call
    client = sim_server.client()
    ws = media_server.url("/ai")
    webhooks.routes["/ai"] = (f'<Response><Connect action="/ai-action"><Stream name="ai-1" '
                              f'url="{ws}"/></Connect></Response>')
    webhooks.routes["/ai-action"] = (f'<Response><Connect action="/ai-action"><Stream '
                                     f'name="ai-2" url="{ws}"/></Connect></Response>')
    app = client.applications.create(voice_url=webhooks.url("/ai"))
    human = client.conferences("action-room").participants.create(
        from_="+15550700000", to="+15550700030")
    ai = client.conferences(human.conference_sid).participants.create(
        from_="+15550700000", to=f"app:{app.sid}", label="ai")
    first = media_server.connections.wait_for(lambda c: c["path"] == "/ai")
    start1 = first["messages"].wait_for(lambda m: m["event"] == "start")
    sim_server.control.stream_fault(start1["streamSid"], "kill")
    action = webhooks.requests.wait_for(lambda r: r["path"] == "/ai-action")
    assert action["valid"] and action["method"] == "POST"
    assert action["form"]["CallSid"] == ai.call_sid
    second = media_server.connections.wait_for(lambda c: c["path"] == "/ai" and c is not first)
    start2 = second["messages"].wait_for(lambda m: m["event"] == "start")
    assert start2["start"]["callSid"] == ai.call_sid
    assert start2["streamSid"] != start1["streamSid"]
    assert not events(first, "stop"), "a lost socket gets no stop"
    labels = [p.label for p in client.conferences(human.conference_sid).participants.list()]
    assert "ai" in labels, "the AI stays in the conference through its <Connect> action"
    streams = call_info(sim_server, ai.call_sid)["streams"]
    assert [(s["name"], s["status"]) for s in streams] == [("ai-1", "stopped"),
                                                            ("ai-2", "in-progress")]
    assert streams[0]["error"].startswith("31924")
    client.conferences(human.conference_sid).update(status="completed")


def test_reusing_a_stream_name_on_a_call_fails_the_stream(sim_server, webhooks, media_server):
    # twiml/stream#name: unique per call (the error code is UNVERIFIED)
    ws = media_server.url("/same")
    webhooks.routes["/same"] = (f'<Response><Connect action="/same-again"><Stream name="ai" '
                                f'url="{ws}" statusCallback="/st"/></Connect></Response>')
    webhooks.routes["/same-again"] = (f'<Response><Connect><Stream name="ai" url="{ws}" '
                                      'statusCallback="/st"/></Connect><Hangup/></Response>')
    call = sim_server.control.inbound_call("+15550700040", "+15550700000",
                                           webhooks.url("/same"))
    conn = media_server.connections.wait_for(lambda c: c["path"] == "/same")
    conn["messages"].wait_for(lambda m: m["event"] == "start")
    conn["ws"].close()  # the app ends <Connect>
    error = webhooks.requests.wait_for(
        lambda r: r["path"] == "/st" and r["form"]["StreamEvent"] == "stream-error")
    assert error["form"]["StreamName"] == "ai" and error["form"]["StreamError"].startswith("20001")
    wait_for(lambda: call_info(sim_server, call["sid"])["status"] == "completed", 10)
    assert len(media_server.connections.matching(lambda c: c["path"] == "/same")) == 1


def test_a_stream_failing_at_connect_is_an_error_and_connect_moves_on(
        sim_server, webhooks, media_server):
    # media-streams errors 31920/31902: stream-error; twiml/connect#action runs
    ws = media_server.url("/flaky")
    webhooks.routes["/flaky"] = (f'<Response><Connect action="/flaky-2"><Stream name="s1" '
                                 f'url="{ws}" statusCallback="/fst"/></Connect></Response>')
    webhooks.routes["/flaky-2"] = (f'<Response><Connect><Stream name="s2" url="{ws}"/>'
                                   "</Connect></Response>")
    webhooks.routes["/pause"] = '<Response><Pause length="1"/><Redirect>/flaky</Redirect>' \
                                "</Response>"
    call = sim_server.control.inbound_call("+15550700050", "+15550700000",
                                           webhooks.url("/pause"))
    sim_server.control.fail_streams(call["sid"], code=31920)
    error = webhooks.requests.wait_for(
        lambda r: r["path"] == "/fst" and r["form"]["StreamEvent"] == "stream-error", 15)
    assert error["form"]["StreamError"].startswith("31920")
    webhooks.requests.wait_for(lambda r: r["path"] == "/flaky-2")
    conn = media_server.connections.wait_for(lambda c: c["path"] == "/flaky")
    conn["messages"].wait_for(lambda m: m["event"] == "start")
    streams = call_info(sim_server, call["sid"])["streams"]
    assert streams[0]["name"] == "s1" and streams[0]["error"].startswith("31920")
    sim_server.client().calls(call["sid"]).update(status="completed")


def test_a_refused_connect_shows_31902_on_the_stream(sim_server, webhooks):
    webhooks.routes["/nobody"] = ('<Response><Connect><Stream url="ws://127.0.0.1:9/x"/>'
                                  "</Connect></Response>")
    call = sim_server.control.inbound_call("+15550700060", "+15550700000",
                                           webhooks.url("/nobody"))
    wait_for(lambda: call_info(sim_server, call["sid"])["status"] == "completed", 10)
    assert call_info(sim_server, call["sid"])["streams"][0]["error"].startswith("31902")


def test_endconferenceonexit_ends_it_for_everyone(sim_server, webhooks):
    # twiml/conference#endconferenceonexit, conference-resource (ReasonConferenceEnded)
    client = sim_server.client()
    host = client.conferences("end-room").participants.create(
        from_="+15550700000", to="+15550700070", end_conference_on_exit=True,
        conference_status_callback=webhooks.url("/end-ev"),
        conference_status_callback_event=["start", "end", "leave"])
    guest = client.conferences(host.conference_sid).participants.create(
        from_="+15550700000", to="+15550700071")
    connected(client, host.conference_sid, 2)
    sim_server.control.hangup("+15550700070")
    end = webhooks.requests.wait_for(lambda r: r["path"] == "/end-ev"
                                     and r["form"]["StatusCallbackEvent"] == "conference-end")
    assert end["form"]["ReasonConferenceEnded"] == \
        "participant-with-end-conference-on-exit-left"
    wait_for(lambda: len(conf_events(webhooks, "/end-ev", "participant-leave")) == 2, 10)
    wait_for(lambda: client.calls(guest.call_sid).fetch().status == "completed", 10)


def test_the_last_participant_leaving_ends_the_conference(sim_server, webhooks):
    client = sim_server.client()
    a = client.conferences("last-room").participants.create(
        from_="+15550700000", to="+15550700080",
        conference_status_callback=webhooks.url("/last-ev"),
        conference_status_callback_event=["end"])
    client.conferences(a.conference_sid).participants.create(from_="+15550700000",
                                                             to="+15550700081")
    connected(client, a.conference_sid, 2)
    sim_server.control.hangup("+15550700080")
    sim_server.control.hangup("+15550700081")
    end = webhooks.requests.wait_for(lambda r: r["path"] == "/last-ev")
    assert end["form"]["ReasonConferenceEnded"] == "last-participant-left"


def test_a_waiting_phone_hears_hold_music_then_a_beep_when_someone_joins(sim_server):
    # twiml/conference#waiturl (default: hold music) and #beep
    client = sim_server.client()
    sim_server.control.record("+15550700090")
    alone = client.conferences("music-room").participants.create(
        from_="+15550700000", to="+15550700090")
    wait_for(lambda: client.conferences(alone.conference_sid).participants.list()[0].status
             == "connected", 10)
    wait_for(lambda: next(p for p in sim_server.control.phones()
                          if p["number"] == "+15550700090")["frames_heard"] > 40, 10)
    client.conferences(alone.conference_sid).participants.create(
        from_="+15550700000", to="+15550700091", wait_url="")
    connected(client, alone.conference_sid, 2)
    wait_for(lambda: next(p for p in sim_server.control.phones()
                          if p["number"] == "+15550700090")["frames_heard"] > 120, 10)
    pcm = ulaw_to_pcm(read_wav_ulaw(sim_server.control.recording_wav("+15550700090")))
    assert tone_level_dbfs(pcm, 392.0, window_ms=200) > -35, "hold music while alone"
    assert tone_level_dbfs(pcm, 880.0, window_ms=200) > -35, "the join beep"
    client.conferences(alone.conference_sid).update(status="completed")


def test_without_the_dev_flag_ws_urls_are_refused_and_lenient_rules_relax(sim_server, webhooks):
    # twiml/stream#url: wss only (31922); a second simulator, same credentials, no --allow-ws
    with running_sim(sim_server.account_sid, sim_server.auth_token,
                     lenient=("coach", "labels", "redirect-leaves")) as sim:
        assert sim.control.strictness() == {"allow_ws": False, "rules": {
            "coach": False, "labels": False, "stream-names": True, "redirect-leaves": False,
            "hold-music": True, "beeps": True, "app-error": True}}
        webhooks.routes["/ws"] = ('<Response><Connect><Stream url="ws://127.0.0.1:9/x" '
                                  'statusCallback="/ws-st"/></Connect></Response>')
        call = sim.control.inbound_call("+15550700100", "+15550700000", webhooks.url("/ws"))
        error = webhooks.requests.wait_for(lambda r: r["path"] == "/ws-st")
        assert error["form"]["StreamError"].startswith("31922")
        wait_for(lambda: call_info(sim, call["sid"])["status"] == "completed", 10)
        client = sim.client()
        ringing = client.conferences("lenient-room").participants.create(
            from_="+15550700000", to="+15550700101", label="CA" + "c" * 32)
        coach = client.conferences(ringing.conference_sid).participants.create(
            from_="+15550700000", to="+15550700102", coaching=True,
            call_sid_to_coach=ringing.call_sid)  # lenient: a ringing target is accepted
        assert coach.coaching
        webhooks.routes["/pause"] = '<Response><Pause length="60"/></Response>'
        app = client.applications.create(voice_url=webhooks.url("/pause"))
        ai = client.conferences(ringing.conference_sid).participants.create(
            from_="+15550700000", to=f"app:{app.sid}", label="ai")
        wait_for(lambda: client.conferences(ringing.conference_sid).participants("ai").fetch()
                 .status == "connected", 10)
        client.calls(ai.call_sid).update(twiml='<Response><Pause length="30"/></Response>')
        webhooks.requests.wait_for(lambda r: r["path"] == "/pause")
        assert "ai" in [p.label for p in client.conferences(ringing.conference_sid)
                        .participants.list()], "lenient: a redirected app: leg stays in"
        client.conferences(ringing.conference_sid).update(status="completed")


def test_a_failed_twiml_fetch_plays_the_application_error_message(sim_server, webhooks):
    # Twilio plays a pre-recorded error message to the far end when it cannot retrieve or run
    # the TwiML (twilio.com/blog/a-hidden-gem-fallback-urls-html); an app: leg's far end is the
    # conference, so its other participants hear it.
    client = sim_server.client()
    phone = "+15550700110"
    sim_server.control.record(phone)
    human = client.conferences("app-error-room").participants.create(
        from_="+15550700000", to=phone, beep="false", wait_url="")
    wait_for(lambda: client.conferences(human.conference_sid).participants(human.call_sid)
             .fetch().status == "connected", 10)
    webhooks.routes["/broken"] = "<Response><Bogus/></Response>"
    app = client.applications.create(voice_url=webhooks.url("/broken"))
    ai = client.conferences(human.conference_sid).participants.create(
        from_="+15550700000", to=f"app:{app.sid}", beep="false", wait_url="")
    wait_for(lambda: call_info(sim_server, ai.call_sid)["status"] == "completed", 20)
    assert call_info(sim_server, ai.call_sid)["error"]  # the failed document, as Twilio logs it
    pcm = ulaw_to_pcm(read_wav_ulaw(sim_server.control.recording_wav(phone)))
    samples = [int.from_bytes(pcm[i:i + 2], "little", signed=True)
               for i in range(0, len(pcm), 2)]
    assert max(map(abs, samples)) > 3000, "the error message reached the conference"
    client.conferences(human.conference_sid).update(status="completed")
