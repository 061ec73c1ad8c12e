"""What an AI call leaves behind, written off the audio path: its transcript lines and metrics.

The media plane's bridge hands every agent event to `AgentEventRecorder.observe` (cheap: it
only notes times and queues jobs on the state writer).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import sqlalchemy as sa

from agents.base import AudioOut, Transcript, TurnMetrics
from conference.transcripts.store import store_line
from models import TurnMetric, transaction
from models.conference import conference_id


def store_turn_metric(info: dict, metrics: TurnMetrics, at: float | None = None) -> None:
    """Insert one TurnMetric row for the conference of `info` (a state-writer job, idempotent)."""
    tenant = info.get("tenant")
    created = datetime.fromtimestamp(time.time() if at is None else at, UTC)
    with transaction() as session:
        conf_id = conference_id(session, tenant, info.get("conference"))
        row = metrics.as_row()
        # Idempotency key (conference, backend, time observed): a retried write is a no-op.
        if session.scalar(sa.select(TurnMetric.id).where(
                TurnMetric.conference_id == conf_id, TurnMetric.backend == row.get("backend"),
                TurnMetric.created_at == created).limit(1)):
            return
        session.add(TurnMetric(conference_id=conf_id, created_at=created, **row))


class AgentEventRecorder:
    """Per AI call: the AI's own transcript lines (timed from its first audio) and turn metrics."""

    def __init__(self, submit: Callable, info: dict) -> None:
        self.submit = submit
        self.info = dict(info, role="ai")
        self._first_audio: dict[str, float] = {}

    def observe(self, event: object) -> None:
        """Note one agent event; queues DB writes for final AI lines and turn metrics."""
        if isinstance(event, AudioOut):
            self._first_audio.setdefault(event.item_id, time.time())
        elif isinstance(event, Transcript) and event.final and event.speaker == "ai":
            now = time.time()
            started = self._first_audio.pop(event.item_id or "", now)
            self.submit(store_line, self.info, event.text, started, now, "ai")
        elif isinstance(event, TurnMetrics):
            self.submit(store_turn_metric, self.info, event, time.time())
