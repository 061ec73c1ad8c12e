"""State sink: Stream rows and media events written off the audio path (SQLite, PostgreSQL)."""
from __future__ import annotations

import sqlalchemy as sa

from conference.media import statesink
from conference.media.statesink import StateSink
from models import ConferenceEvent, Participant, Stream, get_session, transaction
from tests.support.seed import add_conference


def _seed(app, recording: bool) -> dict:
    with app.app_context(), transaction() as session:
        tenant, conf = add_conference(session, "room", recording=recording)
        session.add(Participant(conference_id=conf.id, label="alice", role="customer",
                                call_sid="CA" + "1" * 32))
        return {"tenant": str(tenant.id), "conference": "room", "label": "alice",
                "stream_sid": "MZ" + "1" * 32, "call_sid": "CA" + "1" * 32, "kind": "fork",
                "stream_name": "fork-alice-1"}


def test_stream_lifecycle_rows_and_recording_opt_in(app):
    info = _seed(app, recording=True)
    sink, opted = StateSink(app), []
    sink.submit(statesink.stream_started, info, opted.append)
    sink.join()
    assert opted == [True]
    with app.app_context():
        row = get_session().scalar(sa.select(Stream))
        assert (row.status, row.kind, row.name) == ("started", "fork", "fork-alice-1")
        assert row.conference_id is not None and row.participant_id is not None
    sink.submit(statesink.stream_ended, info["stream_sid"], "dropped")
    sink.submit(statesink.stream_ended, info["stream_sid"], "stopped")  # a drop is final
    sink.join()
    with app.app_context():
        row = get_session().scalar(sa.select(Stream))
        assert row.status == "dropped" and row.stopped_at is not None


def test_recording_off_and_unknown_conference(app):
    info = _seed(app, recording=False)
    sink, opted = StateSink(app), []
    sink.submit(statesink.stream_started, info, opted.append)
    sink.submit(statesink.stream_started, dict(info, conference="nope", stream_sid="MZ2"),
                opted.append)
    sink.join()
    assert opted == [False, False]
    with app.app_context():
        rows = get_session().scalars(sa.select(Stream).order_by(Stream.id)).all()
        assert [r.conference_id is None for r in rows] == [False, True]


def test_media_events_are_deduplicated(app):
    info = _seed(app, recording=False)
    sink = StateSink(app)
    for _ in range(2):
        sink.submit(statesink.media_event, info, "barge-in", "k1", {"heard_ms": 120})
    sink.submit(statesink.media_event, info, "speech-started", "k2", {"speaker": "alice"})
    sink.join()
    with app.app_context():
        events = get_session().scalars(sa.select(ConferenceEvent).order_by(ConferenceEvent.id))
        got = [(e.source, e.event, e.payload) for e in events]
    assert got == [("media", "barge-in", {"heard_ms": 120}),
                   ("media", "speech-started", {"speaker": "alice"})]


def test_a_failing_job_does_not_stop_the_writer(app):
    sink = StateSink(app)
    sink.submit(statesink.media_event, {}, "x", None, {})  # raises inside the job: logged
    sink.submit(statesink.media_event, {}, "x", "k3", {})
    sink.join()
    assert sink.done == 2
    with app.app_context():
        assert get_session().scalar(sa.select(sa.func.count(ConferenceEvent.id))) == 1
