"""The service layer outside any request (as the AI's tools use it), with its own checks."""
from __future__ import annotations

import pytest

from conference import service
from conference.service.errors import Conflict, Invalid, NotFound, UpstreamError


@pytest.fixture
def ctx(twilio_app, tenant, fake_twilio):
    """An app context (no request) with conference `room` holding an agent."""
    with twilio_app.app_context():
        service.create_conference(tenant[0], "room", [
            {"to": "+15551110002", "role": "agent", "label": "agent"}])
        fake_twilio.take()
        yield tenant[0]


def test_add_ai_then_switch_mode_without_a_request(ctx, fake_twilio):
    p, created = service.add_ai(ctx, "room", "echo", "whisper", coach_label="agent")
    # The agent is still ringing: Twilio would refuse the coach (errors/13240), so it is pending.
    assert created and (p.mode, p.coaching, p.muted, p.pending_coach) == (
        "whisper", False, True, True)
    (q,) = fake_twilio.take()
    assert q.form["Muted"] == "true" and "CallSidToCoach" not in q.form
    assert q.form["StatusCallback"] == "https://forkline.test/twilio/call-events"
    p = service.set_ai_mode(ctx, "room", "listen")
    assert (p.mode, p.muted, p.coaching, p.coach_label) == ("listen", True, False, None)
    (q,) = fake_twilio.take()
    assert q.form == {"Muted": "true", "Coaching": "false"}
    again, created = service.add_ai(ctx, "room", "echo", "speak")
    assert not created and again.id == p.id


def test_service_validates_its_arguments(ctx, fake_twilio):
    with pytest.raises(Invalid) as caught:
        service.add_ai(ctx, "room", "echo", "shout")
    assert caught.value.fields == {"mode": "must be one of speak, whisper, listen"}
    with pytest.raises(Invalid):
        service.add_participant(ctx, "room", "not-a-number", "agent", "x")
    with pytest.raises(Invalid):
        service.add_supervisor(ctx, "room", "+15551110003", "whisper")  # no coach
    with pytest.raises(NotFound):
        service.set_ai_mode(ctx, "room", "speak")  # no AI yet
    with pytest.raises(NotFound):
        service.end_conference(ctx, "nope")
    with pytest.raises(Conflict):
        service.add_participant(ctx, "room", "+15551110009", "agent", "agent")
    assert fake_twilio.take() == []


def test_transfer_like_sequence(ctx, fake_twilio):
    """What a warm transfer does: dial a human agent, whisper to them, then leave."""
    service.add_ai(ctx, "room", "echo", "speak")
    service.add_participant(ctx, "room", "+15551110004", "agent", "human")
    service.set_ai_mode(ctx, "room", "whisper", coach_label="human")
    service.remove_ai(ctx, "room")
    ops = fake_twilio.ops()
    assert ops == ["CreateParticipant", "CreateParticipant", "UpdateParticipant",
                   "DeleteParticipant"]
    update = fake_twilio.requests[2].form
    # The human has not joined: the AI goes quiet (muted) until the join switches it to coach.
    assert update == {"Muted": "true", "Coaching": "false"}


def test_without_public_url_callbacks_fall_back_to_localhost(twilio_app, tenant, fake_twilio):
    twilio_app.config["PUBLIC_URL"] = None
    with twilio_app.app_context():
        service.create_conference(tenant[0], "room", [
            {"to": "+15551110002", "role": "agent", "label": "agent"}])
    (q,) = fake_twilio.take()
    assert q.form["ConferenceStatusCallback"] == "http://localhost/twilio/conference-events"


def test_mode_switch_reaches_the_live_bridge(ctx, fake_twilio, monkeypatch):
    """After the commit, the media plane learns the new mode (in listen the AI is not heard)."""
    from conference.media import registry

    seen = []
    monkeypatch.setattr(registry.MediaPlane, "apply_ai_mode",
                        lambda self, key, mode: seen.append((key, mode)) or 1)
    service.add_ai(ctx, "room", "echo", "speak")
    assert seen == []  # a new AI learns its mode from its stream's <Parameter>
    service.set_ai_mode(ctx, "room", "listen")
    service.add_ai(ctx, "room", "echo", "speak")  # PUT /ai on a present AI switches its mode
    fake_twilio.fail_next("UpdateParticipant", 21220, "Call is not in-progress")
    with pytest.raises(UpstreamError):  # a refused switch must not reach the bridge
        service.set_ai_mode(ctx, "room", "listen")
    key = registry.conf_key(str(ctx), "room")
    assert seen == [(key, "listen"), (key, "speak")]
