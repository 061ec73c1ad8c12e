"""AI transcript lines and per-turn metrics reach the database through the state writer."""
from __future__ import annotations

import sqlalchemy as sa

from agents.base import AudioOut, Transcript
from agents.pipeline.metrics import TurnMetrics
from conference.media.statesink import StateSink
from conference.transcripts.agent_records import AgentEventRecorder
from models import Conference, Tenant, TranscriptEntry, TurnMetric, get_session, transaction


def test_ai_lines_and_turn_metrics_are_stored(app):
    with app.app_context(), transaction() as session:
        tenant = Tenant(name="acme")
        session.add(tenant)
        session.flush()
        conf = Conference(tenant_id=tenant.id, name="c1", status="in-progress")
        session.add(conf)
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
