"""AI transcript lines and per-turn metrics reach the database through the state writer."""
from __future__ import annotations

import sqlalchemy as sa

from agents.base import AudioOut, Transcript
from agents.pipeline.metrics import TurnMetrics
from conference.media.statesink import StateSink
from conference.transcripts.agent_records import AgentEventRecorder
from models import TranscriptEntry, TurnMetric, get_session, transaction
from tests.support.seed import add_conference


def test_ai_lines_and_turn_metrics_are_stored(app):
    with app.app_context(), transaction() as session:
        tenant, conf = add_conference(session, "c1", status="in-progress")
    sink = StateSink(app)
    recorder = AgentEventRecorder(sink.submit, {"tenant": str(tenant.id), "conference": "c1"})
    recorder.observe(AudioOut("item_1", b"\xff" * 160))
    recorder.observe(Transcript("caller", "hours?", True))  # the AI's hearing: not stored
    recorder.observe(Transcript("ai", "Nine to five.", False))  # partial: not stored
    recorder.observe(AudioOut("item_1", b"\xff" * 160))
    recorder.observe(Transcript("ai", "Nine to five.", True, "item_1"))
    recorder.observe(TurnMetrics("item_1", "local", 80.0, 0.1, 20.0, 600.0))
    sink.join()
    with app.app_context():
        session = get_session()
        (line,) = session.scalars(sa.select(TranscriptEntry)).all()
        assert (line.speaker, line.role, line.source, line.text) == (
            "ai", "ai", "ai", "Nine to five.")
        assert line.conference_id == conf.id and line.started_at <= line.ended_at
        (metric,) = session.scalars(sa.select(TurnMetric)).all()
        assert (metric.backend, metric.stt_ms, metric.end_to_end_ms) == ("local", 80.0, 600.0)
        assert metric.conference_id == conf.id


def _conference(app) -> int:
    with app.app_context(), transaction() as session:
        tenant, _ = add_conference(session, "c1", status="in-progress")
    return tenant.id


def _ai_lines(app) -> list[tuple]:
    with app.app_context():
        rows = get_session().scalars(sa.select(TranscriptEntry).order_by(TranscriptEntry.id))
        return [(r.item_id, r.text, r.interrupted) for r in rows]


def test_a_line_cut_after_it_was_stored_is_truncated_and_flagged(app):
    # The pipeline settles a line when its audio is generated, long before it has played.
    tenant_id = _conference(app)
    sink = StateSink(app)
    recorder = AgentEventRecorder(sink.submit, {"tenant": str(tenant_id), "conference": "c1"})
    recorder.observe(Transcript("ai", "We are open from nine to five.", True, "item_1"))
    recorder.observe(Transcript("ai", "Anything else?", True, "item_2"))
    recorder.interrupted("item_1", 1000, 3500)  # 2/7 of the words had been heard
    recorder.interrupted("item_1", 3000, 3500)  # a later cut of the same item does not count
    recorder.observe(Transcript("ai", "Let me check.", True, "item_3"))
    recorder.interrupted("item_3", 10, 1500)  # cut before its first word: nobody heard it
    sink.join()
    assert _ai_lines(app) == [("item_1", "We are...", True), ("item_2", "Anything else?", False)]


def test_a_line_settled_after_its_cut_is_stored_as_heard(app):
    # A backend that settles the transcript at response end (after the caller cut in).
    tenant_id = _conference(app)
    sink = StateSink(app)
    recorder = AgentEventRecorder(sink.submit, {"tenant": str(tenant_id), "conference": "c1"})
    recorder.interrupted("item_7", 2000, 4000)
    recorder.interrupted(None, 10, 20)  # a cut with no item (apology audio) is ignored
    recorder.observe(Transcript("ai", "one two three four", True, "item_7"))
    recorder.interrupted("item_8", 0, 4000)
    recorder.observe(Transcript("ai", "never heard", True, "item_8"))
    sink.join()
    assert _ai_lines(app) == [("item_7", "one two...", True)]
