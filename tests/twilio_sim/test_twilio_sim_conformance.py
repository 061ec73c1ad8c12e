"""The real twilio SDK through every simulated endpoint; every response checked against the spec."""
from __future__ import annotations

import pytest
from sim_servers import events
from spec_check import check_response
from twilio.twiml.voice_response import Pause, VoiceResponse

from twilio_sim.testing import wait_for

pytestmark = pytest.mark.slow
HOLD = str(VoiceResponse().append(Pause(length=60)))
CONNECT = ('<Response><Connect><Stream url="{url}"><Parameter name="conf" value="room-1"/>'
           '</Stream></Connect></Response>')


def assert_spec_conformant(client) -> int:
    """Every exchange the SDK made matches the spec; returns how many were checked."""
    exchanges = client.http_client.exchanges
    for method, url, status, body in exchanges:
        path = "/" + url.split("://", 1)[1].split("/", 1)[1]
        check_response(method, path, status, body)
    return len(exchanges)


def wait_status(client, call_sid: str, status: str):
    """Poll the Call resource until it has `status`."""
    return wait_for(lambda: client.calls(call_sid).fetch().status == status, 10,
                    message=f"call {call_sid} {status}")


def test_applications(twilio_client, webhooks):
    app = twilio_client.applications.create(friendly_name="ai", voice_url=webhooks.url("/ai"))
    assert app.sid.startswith("AP") and len(app.sid) == 34
    assert twilio_client.applications(app.sid).fetch().voice_url == webhooks.url("/ai")
    listed = twilio_client.applications.list(friendly_name="ai")
    assert app.sid in [a.sid for a in listed]
    assert assert_spec_conformant(twilio_client) == 3


def test_calls_lifecycle(twilio_client, webhooks, media_server):
    webhooks.routes["/hold"] = HOLD
    call = twilio_client.calls.create(to="+15550100001", from_="+15550100000", twiml=HOLD)
    assert call.status == "queued" and call.direction == "outbound-api"
    wait_status(twilio_client, call.sid, "in-progress")
    twilio_client.calls(call.sid).update(url=webhooks.url("/hold"))
    request = webhooks.requests.wait_for(lambda r: r["path"] == "/hold")
    assert request["valid"] and request["form"]["CallSid"] == call.sid
    assert request["form"]["CallStatus"] == "in-progress"
    assert request["form"]["ApiVersion"] == "2010-04-01"
    stream = twilio_client.calls(call.sid).streams.create(
        url=media_server.url("/fork"), name="fork-a", track="both_tracks",
        parameter1_name="role", parameter1_value="customer")
    assert stream.status == "in-progress" and stream.name == "fork-a"
    conn = media_server.connections.wait_for(lambda c: c["path"] == "/fork")
    start = conn["messages"].wait_for(lambda m: m["event"] == "start")
    assert start["start"]["customParameters"] == {"role": "customer"}
    assert start["start"]["tracks"] == ["inbound", "outbound"] and conn["signature_ok"]
    stopped = twilio_client.calls(call.sid).streams("fork-a").update(status="stopped")
    assert stopped.status == "stopped"
    conn["messages"].wait_for(lambda m: m["event"] == "stop")
    second = twilio_client.calls(call.sid).streams.create(url=media_server.url("/fork2"))
    twilio_client.calls(call.sid).streams(second.sid).update(status="stopped")
    twilio_client.calls(call.sid).update(twiml=HOLD)
    ended = twilio_client.calls(call.sid).update(status="completed")
    assert ended.sid == call.sid
    wait_status(twilio_client, call.sid, "completed")
    assert twilio_client.calls(call.sid).fetch().end_time is not None
    assert call.sid in [c.sid for c in twilio_client.calls.list(to="+15550100001")]
    assert assert_spec_conformant(twilio_client) >= 10


def test_call_create_with_url_and_application(twilio_client, webhooks):
    webhooks.routes["/answer"] = "<Response><Hangup/></Response>"
    by_url = twilio_client.calls.create(to="client:alice", from_="+15550100000",
                                        url=webhooks.url("/answer"))
    request = webhooks.requests.wait_for(lambda r: r["form"].get("CallSid") == by_url.sid)
    assert request["valid"] and request["form"]["To"] == "client:alice"
    wait_status(twilio_client, by_url.sid, "completed")
    app = twilio_client.applications.create(voice_url=webhooks.url("/answer"))
    by_app = twilio_client.calls.create(to="sip:bob@example.com", from_="+15550100000",
                                        application_sid=app.sid)
    request = webhooks.requests.wait_for(lambda r: r["form"].get("CallSid") == by_app.sid)
    assert request["form"]["ApplicationSid"] == app.sid
    assert assert_spec_conformant(twilio_client) >= 4


def test_conference_and_participants(twilio_client, webhooks, media_server):
    webhooks.routes["/ai"] = CONNECT.format(url=media_server.url("/ai"))
    app = twilio_client.applications.create(voice_url=webhooks.url("/ai"))
    room = twilio_client.conferences("room-1").participants
    agent = room.create(from_="+15550100000", to="+15550100011", label="agent",
                        conference_status_callback=webhooks.url("/conf"),
                        conference_status_callback_event=["start", "end", "join", "leave",
                                                          "mute", "hold", "modify"])
    assert agent.status == "queued" and agent.label == "agent"
    cf = agent.conference_sid
    customer = twilio_client.conferences(cf).participants.create(
        from_="+15550100000", to="+15550100012", label="customer", beep="false",
        start_conference_on_enter=True, end_conference_on_exit=False)
    # Coaching needs the coached call connected to the in-progress conference (13240).
    wait_for(lambda: twilio_client.conferences(cf).fetch().status == "in-progress", 10)
    ai = twilio_client.conferences(cf).participants.create(
        from_="+15550100000", to=f"app:{app.sid}?persona=helper", label="ai",
        coaching=True, call_sid_to_coach=agent.call_sid)
    assert ai.coaching and ai.call_sid_to_coach == agent.call_sid
    wait_for(lambda: len([p for p in twilio_client.conferences(cf).participants.list()
                          if p.status == "connected"]) == 3, 10, message="3 connected")
    voice = webhooks.requests.wait_for(lambda r: r["path"] == "/ai")
    assert voice["valid"] and voice["form"]["persona"] == "helper"
    assert voice["form"]["ParentCallSid"] == ai.call_sid == voice["form"]["CallSid"]
    conn = media_server.connections.wait_for(lambda c: c["path"] == "/ai")
    start = conn["messages"].wait_for(lambda m: m["event"] == "start")
    assert start["start"]["callSid"] == ai.call_sid
    assert start["start"]["customParameters"] == {"conf": "room-1"}
    assert twilio_client.conferences(cf).fetch().status == "in-progress"
    assert cf in [c.sid for c in twilio_client.conferences.list(friendly_name="room-1")]
    assert twilio_client.conferences(cf).participants("agent").fetch().call_sid == agent.call_sid
    muted = twilio_client.conferences(cf).participants(customer.call_sid).update(muted=True)
    assert muted.muted is True
    assert twilio_client.conferences(cf).participants("customer").update(hold=True).hold
    assert [p.call_sid for p in twilio_client.conferences(cf).participants.list(muted=True)] \
        == [customer.call_sid]
    twilio_client.conferences(cf).participants("ai").update(coaching=False)
    assert twilio_client.conferences(cf).participants("ai").delete() is True
    assert twilio_client.conferences(cf).participants(customer.call_sid).delete() is True
    ended = twilio_client.conferences(cf).update(status="completed")
    assert ended.sid == cf
    wait_for(lambda: twilio_client.conferences(cf).fetch().status == "completed", 10)
    done = twilio_client.conferences(cf).fetch()
    assert done.reason_conference_ended == "conference-ended-via-api"
    assert twilio_client.conferences(cf).participants.list() == []
    assert events(conn, "stop"), "the AI stream gets stop when its leg is kicked"
    assert assert_spec_conformant(twilio_client) >= 18


def test_participants_client_sip_and_flags(twilio_client, webhooks):
    room = twilio_client.conferences("flags-room").participants
    client_leg = room.create(from_="+15550100000", to="client:alice",
                             start_conference_on_enter=False,
                             status_callback=webhooks.url("/leg"),
                             status_callback_event=["answered", "completed"])
    assert client_leg.start_conference_on_enter is False
    cf = client_leg.conference_sid
    sip_leg = twilio_client.conferences(cf).participants.create(
        from_="alice", to="sip:bob@example.com", muted=True, end_conference_on_exit=True)
    answered = webhooks.requests.wait_for(lambda r: r["path"] == "/leg")
    assert answered["form"]["CallStatus"] == "in-progress"
    assert answered["form"]["To"] == "client:alice" and answered["valid"]
    wait_for(lambda: twilio_client.conferences(cf).fetch().status == "in-progress", 10)
    assert twilio_client.calls(sip_leg.call_sid).fetch().to == "sip:bob@example.com"
    twilio_client.calls(sip_leg.call_sid).update(status="completed")
    wait_for(lambda: twilio_client.conferences(cf).fetch().status == "completed", 10)
    ended = twilio_client.conferences(cf).fetch()
    assert ended.reason_conference_ended == "participant-with-end-conference-on-exit-left"
    assert ended.call_sid_ending_conference == sip_leg.call_sid
    assert assert_spec_conformant(twilio_client) >= 6
