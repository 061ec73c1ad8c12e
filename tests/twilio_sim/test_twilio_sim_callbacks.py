"""Callback parameter builders and sequencing (sans-I/O), and request signing."""
from __future__ import annotations

from datetime import UTC, datetime

from twilio.request_validator import RequestValidator

from twilio_sim import callbacks
from twilio_sim.store import Call, Conference, Participant, Stream

WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def conference(events):
    return Conference(account_sid="AC1", friendly_name="room", status_callback="http://h/c",
                      status_callback_events=events)


def test_conference_events_are_filtered_and_numbered():
    conf = conference(["join", "mute"])
    part = Participant(call_sid="CA1", conference_sid=conf.sid, account_sid="AC1", label="ai",
                       muted=True)
    assert callbacks.conference_event(conf, "conference-start", WHEN) is None
    first = callbacks.conference_event(conf, "participant-join", WHEN, part)
    second = callbacks.conference_event(conf, "participant-unmute", WHEN, part)
    assert (first["SequenceNumber"], second["SequenceNumber"]) == ("1", "2")
    assert first["Timestamp"] == "Fri, 02 Jan 2026 03:04:05 +0000"
    assert first["Muted"] == "true" and first["ParticipantLabel"] == "ai"
    assert first["StartConferenceOnEnter"] == "true" and first["Coaching"] == "false"
    assert first["ConferenceSid"] == conf.sid and first["FriendlyName"] == "room"


def test_conference_end_carries_reason_and_drops_nones():
    conf = conference(["end"])
    params = callbacks.conference_event(conf, "conference-end", WHEN,
                                        ReasonConferenceEnded="last-participant-left",
                                        CallSidEndingConference=None)
    assert params["ReasonConferenceEnded"] == "last-participant-left"
    assert "CallSidEndingConference" not in params and "CallSid" not in params


def test_no_callback_url_means_no_event():
    conf = Conference(account_sid="AC1", friendly_name="r", status_callback_events=["join"])
    assert callbacks.conference_event(conf, "participant-join", WHEN) is None


def test_call_events_start_at_zero_and_carry_duration():
    call = Call(account_sid="AC1", to="+1", from_="+2", status_callback="http://h/s",
                status_callback_events=["answered", "completed"])
    call.status = "ringing"
    assert callbacks.call_event(call, "AC1", WHEN) is None
    call.status = "in-progress"
    answered = callbacks.call_event(call, "AC1", WHEN)
    call.status = "completed"
    done = callbacks.call_event(call, "AC1", WHEN, duration_s=61.0)
    assert (answered["SequenceNumber"], done["SequenceNumber"]) == ("0", "1")
    assert answered["CallbackSource"] == "call-progress-events"
    assert done["CallDuration"] == "61" and done["Duration"] == "2"
    assert done["CallStatus"] == "completed" and done["Direction"] == "outbound-api"


def test_voice_params_carry_parent_and_custom_params():
    call = Call(account_sid="AC1", to="app:AP1", from_="+2", parent_call_sid="CA9",
                custom_params={"persona": "helper"}, application_sid="AP1")
    params = callbacks.voice_params(call, "AC1")
    assert params["ParentCallSid"] == "CA9" and params["persona"] == "helper"
    assert params["ApplicationSid"] == "AP1" and params["ApiVersion"] == "2010-04-01"


def test_stream_event_uses_iso_timestamps():
    stream = Stream(call_sid="CA1", account_sid="AC1", url="wss://x/y")
    params = callbacks.stream_event(stream, "stream-error", WHEN, error="31920 handshake")
    assert params["Timestamp"] == "2026-01-02T03:04:05+00:00"
    assert params["StreamName"] == stream.sid and params["StreamError"] == "31920 handshake"


def test_signed_requests_validate_with_the_sdk():
    validator = RequestValidator("tok")
    post = callbacks.signed_request("http://h/x", "POST", {"A": "1", "B": "2"}, "tok")
    assert validator.validate(post["url"], post["data"], post["headers"]["X-Twilio-Signature"])
    get = callbacks.signed_request("http://h/x?q=1", "GET", {"A": "1"}, "tok")
    assert get["url"] == "http://h/x?q=1&A=1"
    assert validator.validate(get["url"], {}, get["headers"]["X-Twilio-Signature"])
