"""Status callbacks: duplicates, reordering and late arrivals never move state wrongly;
each human leg is forked exactly once."""
from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from models import ConferenceEvent, Participant, Stream, get_session
from tests.support.twilio_requests import TS, conf_event, stream_event


def participant(app, label) -> Participant:
    with app.app_context():
        return get_session().scalar(sa.select(Participant).where(Participant.label == label))


def test_duplicate_join_forks_once(twilio_app, twilio, room, fake_twilio):
    for _ in range(3):
        assert conf_event(twilio, room, "participant-join", 1, "customer").status_code == 204
    # A second join with another sequence number (a redelivery Twilio renumbered) does not fork.
    assert conf_event(twilio, room, "participant-join", 7, "customer").status_code == 204
    assert fake_twilio.ops() == ["CreateStream"]
    with twilio_app.app_context():
        events = get_session().scalars(sa.select(ConferenceEvent).where(
            ConferenceEvent.source == "conference")).all()
        assert [(e.event, e.sequence_number) for e in events] == [
            ("participant-join", 1), ("participant-join", 7)]
        assert events[0].payload["CallSid"] == room["calls"]["customer"]
    assert participant(twilio_app, "customer").status == "joined"


def test_concurrent_joins_fork_once(twilio_app, twilio, room, fake_twilio):
    barrier = threading.Barrier(6)
    statuses = []

    def post(seq):
        sender = type(twilio)(twilio_app.test_client(), twilio_app.config["TWILIO_AUTH_TOKEN"])
        barrier.wait()
        statuses.append(conf_event(sender, room, "participant-join", seq, "agent").status_code)

    threads = [threading.Thread(target=post, args=(1 + i % 2,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [204] * 6
    assert fake_twilio.ops() == ["CreateStream"]
    assert participant(twilio_app, "agent").fork_started


def test_late_join_after_leave_stays_left(twilio_app, twilio, room, fake_twilio):
    assert conf_event(twilio, room, "participant-leave", 5, "customer").status_code == 204
    assert conf_event(twilio, room, "participant-join", 3, "customer").status_code == 204
    p = participant(twilio_app, "customer")
    assert p.status == "left" and p.joined_at is None and p.left_at is not None
    assert fake_twilio.ops() == []  # a leg that left is never forked


def test_out_of_order_mute_keeps_newest(twilio_app, twilio, room):
    conf_event(twilio, room, "participant-join", 1, "agent")
    conf_event(twilio, room, "participant-mute", 4, "agent", Muted="true")
    conf_event(twilio, room, "participant-unmute", 3, "agent", Muted="false")
    assert participant(twilio_app, "agent").muted is True
    conf_event(twilio, room, "participant-unmute", 6, "agent", Muted="false")
    p = participant(twilio_app, "agent")
    assert p.muted is False and p.last_sequence == 6


def test_join_arriving_after_newer_event_still_joins(twilio_app, twilio, room, fake_twilio):
    conf_event(twilio, room, "participant-hold", 4, "agent", Hold="true")
    conf_event(twilio, room, "participant-join", 2, "agent", Hold="false")
    p = participant(twilio_app, "agent")
    assert (p.status, p.hold, p.last_sequence) == ("joined", True, 4)
    assert fake_twilio.ops() == ["CreateStream"]


def test_late_start_after_end_keeps_completed(twilio_app, twilio, room, api):
    conf_event(twilio, room, "conference-end", 9, ReasonConferenceEnded="last-participant-left")
    conf_event(twilio, room, "conference-start", 1)
    conf = api.get("/conferences/room").json
    assert conf["status"] == "completed" and conf["started_at"] is None
    assert {p["status"] for p in conf["participants"]} == {"left"}


def test_fork_failure_is_retried_on_next_join(twilio_app, twilio, room, fake_twilio):
    fake_twilio.fail_next("CreateStream", 21220, "Call is not in-progress", 400)
    assert conf_event(twilio, room, "participant-join", 1, "customer").status_code == 204
    assert participant(twilio_app, "customer").fork_started is False
    assert conf_event(twilio, room, "participant-join", 2, "customer").status_code == 204
    assert fake_twilio.ops() == ["CreateStream", "CreateStream"]
    assert participant(twilio_app, "customer").fork_started is True


def call_event(twilio, call_sid, status, seq=None):
    params = {"CallSid": call_sid, "CallStatus": status, "AccountSid": "AC" + "0" * 32}
    if seq is not None:
        params["SequenceNumber"] = str(seq)
    return twilio.post("/twilio/call-events", params)


def test_call_events_only_move_forward(twilio_app, twilio, room):
    agent = room["calls"]["agent"]
    assert call_event(twilio, agent, "in-progress", 2).status_code == 204
    assert call_event(twilio, agent, "ringing", 1).status_code == 204
    assert participant(twilio_app, "agent").status == "in-progress"
    call_event(twilio, agent, "completed", 3)
    call_event(twilio, agent, "in-progress", 2)  # duplicate
    assert participant(twilio_app, "agent").status == "left"


def test_all_legs_failing_fails_the_conference(twilio_app, twilio, room, api):
    call_event(twilio, room["calls"]["customer"], "busy", 1)
    assert api.get("/conferences/room").json["status"] == "pending"
    call_event(twilio, room["calls"]["agent"], "no-answer", 1)
    conf = api.get("/conferences/room").json
    assert conf["status"] == "failed"
    assert {p["status"] for p in conf["participants"]} == {"failed"}


def test_stream_events_are_order_tolerant(twilio_app, twilio, room):
    call, mz = room["calls"]["customer"], "MZ" + "a" * 32
    assert stream_event(twilio, call, mz, "stream-stopped").status_code == 204
    assert stream_event(twilio, call, mz, "stream-started").status_code == 204
    assert stream_event(twilio, call, mz, "stream-started").status_code == 204
    with twilio_app.app_context():
        (s,) = get_session().scalars(sa.select(Stream)).all()
        assert (s.status, s.kind, s.call_sid) == ("stopped", "fork", call)
        assert s.stopped_at is not None


def test_stream_error_marks_failed(twilio_app, twilio, room):
    call, mz = room["calls"]["agent"], "MZ" + "b" * 32
    stream_event(twilio, call, mz, "stream-started")
    stream_event(twilio, call, mz, "stream-error", StreamError="31920 handshake")
    with twilio_app.app_context():
        assert get_session().scalar(sa.select(Stream.status)) == "failed"


def test_unknown_conference_is_stored_and_acknowledged(twilio_app, twilio):
    r = twilio.post("/twilio/conference-events", {
        "ConferenceSid": "CF" + "9" * 32, "FriendlyName": "someone-else",
        "StatusCallbackEvent": "conference-start", "SequenceNumber": "1"})
    assert r.status_code == 204
    with twilio_app.app_context():
        (e,) = get_session().scalars(sa.select(ConferenceEvent)).all()
        assert e.conference_id is None and e.event == "conference-start"


def test_the_ais_dial_token_echoed_by_twilio_is_not_stored(twilio_app, twilio):
    # Twilio hands an app: address's query back as parameters of the leg's callbacks.
    app_to = "app:AP" + "1" * 32 + "?conference=room&token=secret.token.sig"
    r = twilio.post("/twilio/call-events", {
        "CallSid": "CA" + "7" * 32, "CallStatus": "initiated", "To": app_to, "Called": app_to,
        "token": "secret.token.sig", "conference": "room"})
    assert r.status_code == 204
    with twilio_app.app_context():
        (e,) = get_session().scalars(sa.select(ConferenceEvent)).all()
        assert "token" not in e.payload and "secret.token.sig" not in str(e.payload)
        assert e.payload["To"] == e.payload["Called"] == "app:AP" + "1" * 32
        assert e.payload["conference"] == "room"


@pytest.mark.parametrize(("path", "params", "reason"), [
    ("/twilio/conference-events", {"StatusCallbackEvent": "conference-start",
                                   "SequenceNumber": "1"}, "missing parameter ConferenceSid"),
    ("/twilio/conference-events", {"ConferenceSid": "CF" + "1" * 32, "SequenceNumber": "x",
                                   "StatusCallbackEvent": "conference-start"},
     "invalid parameter SequenceNumber"),
    ("/twilio/conference-events", {"ConferenceSid": "CF" + "1" * 32, "SequenceNumber": "2",
                                   "StatusCallbackEvent": "participant-join"},
     "missing parameter CallSid"),
    ("/twilio/conference-events", {"ConferenceSid": "nope", "SequenceNumber": "2",
                                   "StatusCallbackEvent": "conference-end"},
     "invalid parameter ConferenceSid"),
    ("/twilio/call-events", {"CallSid": "CA" + "1" * 32, "CallStatus": "exploded"},
     "invalid parameter CallStatus"),
    ("/twilio/call-events", {"CallStatus": "ringing"}, "missing parameter CallSid"),
    ("/twilio/stream-events", {"CallSid": "CA" + "1" * 32, "StreamSid": "XX",
                               "StreamEvent": "stream-started"}, "invalid parameter StreamSid"),
    ("/twilio/stream-events", {"CallSid": "CA" + "1" * 32, "StreamSid": "MZ" + "1" * 32,
                               "StreamEvent": "stream-exploded"}, "invalid parameter StreamEvent"),
])
def test_bad_callback_params_get_400_with_reason(twilio_app, twilio, path, params, reason):
    r = twilio.post(path, params)
    assert r.status_code == 400
    assert reason in r.get_data(as_text=True)
    with twilio_app.app_context():
        assert get_session().scalar(sa.select(sa.func.count(ConferenceEvent.id))) == 0


def test_callbacks_that_beat_the_commit_are_adopted(twilio_app, twilio, api, fake_twilio, tenant):
    # The fake numbers sids in order: this conference will be CF…1, its first leg CA…2.
    conf_sid, call_sid = fake_twilio.new_sid("CF"), fake_twilio.new_sid("CA")
    fake_twilio._ids = iter(range(1, 100))  # rewind so the API call gets exactly those sids
    early = {"ConferenceSid": conf_sid, "FriendlyName": f"t{tenant[0]}-early", "Timestamp": TS}
    twilio.post("/twilio/call-events", {"CallSid": call_sid, "CallStatus": "ringing",
                                        "SequenceNumber": "1"})
    twilio.post("/twilio/conference-events", {**early, "StatusCallbackEvent": "conference-start",
                                              "SequenceNumber": "1"})
    twilio.post("/twilio/conference-events", {
        **early, "StatusCallbackEvent": "participant-join", "SequenceNumber": "2",
        "CallSid": call_sid, "ParticipantLabel": "customer"})
    r = api.post("/conferences", {"name": "early", "participants": [
        {"to": "+15551110001", "role": "customer", "label": "customer"}]})
    assert r.status_code == 201
    assert r.json["participants"][0]["call_sid"] == call_sid
    assert fake_twilio.ops() == ["CreateParticipant", "CreateStream"]
    conf = api.get("/conferences/early").json
    assert conf["status"] == "in-progress" and conf["twilio_sid"] == conf_sid
    assert conf["participants"][0]["status"] == "joined"
    assert conf["participants"][0]["forked"] is True
    with twilio_app.app_context():
        homeless = get_session().scalar(sa.select(sa.func.count(ConferenceEvent.id)).where(
            ConferenceEvent.conference_id.is_(None)))
        assert homeless == 0


def test_concurrent_events_for_one_leg_lose_no_update(twilio_app, twilio, room, fake_twilio):
    events = [("participant-join", 1, {"Muted": "false", "Hold": "false"}),
              ("participant-mute", 2, {"Muted": "true", "Hold": "false"}),
              ("participant-hold", 3, {"Muted": "true", "Hold": "true"}),
              ("participant-unhold", 4, {"Muted": "true", "Hold": "false"})]
    barrier, statuses = threading.Barrier(len(events)), []

    def post(event, seq, flags):
        sender = type(twilio)(twilio_app.test_client(), twilio_app.config["TWILIO_AUTH_TOKEN"])
        barrier.wait()
        statuses.append(conf_event(sender, room, event, seq, "agent", **flags).status_code)

    threads = [threading.Thread(target=post, args=e) for e in events]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [204] * 4
    p = participant(twilio_app, "agent")
    assert (p.status, p.muted, p.hold, p.last_sequence, p.fork_started) == (
        "joined", True, False, 4, True)
    assert fake_twilio.ops() == ["CreateStream"]


def test_detail_events_show_only_allow_listed_payload_fields(twilio_app, twilio, api, room,
                                                             tenant):
    from conference.media import statesink

    assert conf_event(twilio, room, "participant-mute", 3, "customer", Muted="true", Hold="false",
                      Coaching="false").status_code == 204
    info = {"tenant": str(tenant[0]), "conference": "room", "call_sid": "CA" + "a" * 32}
    with twilio_app.app_context():
        statesink.media_event(info, "barge-in", "k1", {
            "source": "vad", "speaker": "customer", "item_id": "item_1", "heard_ms": 1200,
            "flushed_ms": 800, "token": "secret-token"})
        statesink.media_event(info, "transcript", "k2",
                              {"speaker": "ai", "text": "Your PIN is 4321"})
        statesink.media_event(info, "dtmf", "k3", {"digit": "7"})
    events = {e["event"]: e for e in api.get("/conferences/room").json["events"]}

    mute = events["participant-mute"]["payload"]
    assert mute == {"StatusCallbackEvent": "participant-mute", "SequenceNumber": "3",
                    "CallSid": room["calls"]["customer"], "Muted": "true", "Hold": "false",
                    "Coaching": "false"}
    assert events["barge-in"]["payload"] == {"speaker": "customer", "item_id": "item_1",
                                             "heard_ms": 1200, "flushed_ms": 800}
    assert events["transcript"]["payload"] == {"speaker": "ai"}
    assert events["dtmf"]["payload"] == {}
    assert events["conference-created"]["payload"] == {"labels": ["customer", "agent"]}
    body = str(api.get("/conferences/room").json)
    for secret in ("AC" + "0" * 32, "secret-token", "4321", room["friendly"]):
        assert secret not in body
