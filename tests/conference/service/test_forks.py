"""A human leg whose fork stops or fails while it is in the conference is forked again, once."""
from __future__ import annotations

import threading

import sqlalchemy as sa

from conference.service.forks import MAX_FORKS_PER_LEG
from models import Stream, get_session
from tests.support.twilio_requests import conf_event, stream_event

ERROR = {"StreamError": "31920 Stream - WebSocket - Handshake Error"}


def joined_and_forked(twilio, room, fake_twilio, label="customer") -> str:
    """Join `label`; returns the MZ sid of the fork the join started."""
    assert conf_event(twilio, room, "participant-join", 1, label).status_code == 204
    (create,) = fake_twilio.take()
    assert create.operation_id == "CreateStream"
    return next(sid for sid, s in fake_twilio.streams.items()
                if s["call_sid"] == room["calls"][label] and s["status"] == "in-progress")


def twilio_ended(fake_twilio, stream_sid: str) -> None:
    # What Twilio's side looks like once it reported the stream gone.
    fake_twilio.streams[stream_sid]["status"] = "stopped"


def fork_rows(app, call_sid: str) -> list[tuple[str, str]]:
    with app.app_context():
        return [(s.stream_sid, s.status) for s in get_session().scalars(
            sa.select(Stream).where(Stream.call_sid == call_sid).order_by(Stream.id))]


def test_failed_fork_is_replaced_once(twilio_app, twilio, room, fake_twilio):
    call = room["calls"]["customer"]
    first = joined_and_forked(twilio, room, fake_twilio)
    twilio_ended(fake_twilio, first)
    assert stream_event(twilio, call, first, "stream-error", **ERROR).status_code == 204
    (create,) = fake_twilio.take()
    assert create.operation_id == "CreateStream"
    assert create.path.endswith(f"/Calls/{call}/Streams.json")
    # Stream names are unique per call, ended streams included (twiml/stream#attributes-name).
    assert (create.form["Name"], create.form["Track"]) == ("fork-customer-2", "inbound_track")
    assert create.form["Url"].endswith("/twilio/fork")
    assert create.form["StatusCallback"].endswith("/twilio/stream-events")
    assert create.form["Parameter1.Name"] and "Parameter1.Value" in create.form
    # The same failure reported again, and its stream-stopped, start nothing more.
    stream_event(twilio, call, first, "stream-error", **ERROR)
    stream_event(twilio, call, first, "stream-stopped")
    assert fake_twilio.take() == []
    second = next(sid for sid, s in fake_twilio.streams.items() if s["status"] == "in-progress"
                  and s["call_sid"] == call)
    assert fork_rows(twilio_app, call) == [(first, "failed"), (second, "started")]

    # A new failure (of the replacement) is a new re-fork.
    twilio_ended(fake_twilio, second)
    assert stream_event(twilio, call, second, "stream-stopped").status_code == 204
    (third,) = fake_twilio.take()
    assert (third.operation_id, third.form["Name"]) == ("CreateStream", "fork-customer-3")
    assert [status for _, status in fork_rows(twilio_app, call)] == ["failed", "stopped",
                                                                     "started"]


def test_concurrent_duplicate_callbacks_refork_once(twilio_app, twilio, room,
                                                    fake_twilio):
    call = room["calls"]["agent"]
    first = joined_and_forked(twilio, room, fake_twilio, "agent")
    twilio_ended(fake_twilio, first)
    barrier, statuses = threading.Barrier(6), []

    def post(i):
        sender = type(twilio)(twilio_app.test_client(), twilio_app.config["TWILIO_AUTH_TOKEN"])
        barrier.wait()
        event = ("stream-error", "stream-stopped")[i % 2]
        statuses.append(stream_event(sender, call, first, event, **ERROR).status_code)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [204] * 6
    assert [r.operation_id for r in fake_twilio.take()] == ["CreateStream"]
    assert len(fork_rows(twilio_app, call)) == 2


def test_no_refork_after_the_participant_left(twilio_app, twilio, room, fake_twilio):
    call = room["calls"]["customer"]
    first = joined_and_forked(twilio, room, fake_twilio)
    assert conf_event(twilio, room, "participant-leave", 2, "customer").status_code == 204
    twilio_ended(fake_twilio, first)
    assert stream_event(twilio, call, first, "stream-stopped").status_code == 204
    assert fake_twilio.take() == []


def test_no_refork_before_the_join(twilio_app, twilio, room, fake_twilio):
    # A leg still ringing is forked on its join, not by a stray stream callback.
    stream_event(twilio, room["calls"]["customer"], "MZ" + "c" * 32, "stream-error", **ERROR)
    assert fake_twilio.take() == []


def test_never_for_the_ai_or_a_supervisor(twilio_app, twilio, api, room, fake_twilio):
    assert api.put("/conferences/room/ai", {"agent": "default", "mode": "speak"}).status_code == 201
    r = api.post("/conferences/room/supervisors", {"to": "+15551110009", "mode": "listen"})
    assert r.status_code == 201
    fake_twilio.take()
    calls = {p["label"]: p["call_sid"] for p in api.get("/conferences/room").json["participants"]}
    room["calls"].update(calls)
    for seq, label in enumerate(("ai", r.json["label"]), start=1):
        assert conf_event(twilio, room, "participant-join", seq, label).status_code == 204
        mz = f"MZ{seq:032x}"
        stream_event(twilio, calls[label], mz, "stream-started")
        stream_event(twilio, calls[label], mz, "stream-error", **ERROR)
    assert fake_twilio.take() == []


def test_a_leg_that_keeps_failing_stops_being_reforked(twilio_app, twilio, room,
                                                       fake_twilio):
    call = room["calls"]["customer"]
    current = joined_and_forked(twilio, room, fake_twilio)
    for _ in range(MAX_FORKS_PER_LEG + 2):
        twilio_ended(fake_twilio, current)
        stream_event(twilio, call, current, "stream-error", **ERROR)
        current = next((sid for sid, s in fake_twilio.streams.items()
                        if s["status"] == "in-progress" and s["call_sid"] == call), None)
        if current is None:
            break
    assert len(fork_rows(twilio_app, call)) == MAX_FORKS_PER_LEG
    assert all(status == "failed" for _, status in fork_rows(twilio_app, call))
