"""What an AI call leaves behind, written off the audio path: its transcript lines and metrics.

The media plane's bridge hands every agent event to `AgentEventRecorder.observe` and every
barge-in cut to `AgentEventRecorder.interrupted` (both cheap: they only note times and queue
jobs on the state writer). A cut AI line is stored as heard and flagged `interrupted`.
"""
from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime

import sqlalchemy as sa

from agents.base import AudioOut, Transcript, TurnMetrics
from agents.pipeline.speaker import truncate_text
from conference.transcripts.store import store_line
from models import TranscriptEntry, TurnMetric, transaction
from models.conference import conference_id

REMEMBERED_ITEMS = 32  # cuts and stored lines kept per call to match the other order


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


def mark_interrupted(info: dict, item_id: str, heard_ms: int, generated_ms: int) -> None:
    """Cut an already stored AI line at what was heard and flag it (a state-writer job)."""
    with transaction() as session:
        conf_id = conference_id(session, info.get("tenant"), info.get("conference"))
        line = session.scalar(sa.select(TranscriptEntry).where(
            TranscriptEntry.conference_id == conf_id, TranscriptEntry.source == "ai",
            TranscriptEntry.item_id == item_id).order_by(TranscriptEntry.id.desc()).limit(1))
        if line is None or line.interrupted:
            return
        line.text = truncate_text(line.text, heard_ms, generated_ms)
        line.interrupted = True
        if not heard_words(line.text):  # cut before a word was heard: nobody heard this line
            session.delete(line)


def heard_words(text: str) -> bool:
    """Whether a cut line kept any word ("..." alone: it was cut before its first word)."""
    return bool(text.rstrip(".").strip())


def _remember(items: OrderedDict, key: str, value) -> None:
    items[key] = value
    while len(items) > REMEMBERED_ITEMS:
        items.popitem(last=False)


class AgentEventRecorder:
    """Per AI call: the AI's own transcript lines (timed from its first audio) and turn metrics."""

    def __init__(self, submit: Callable, info: dict) -> None:
        self.submit = submit
        self.info = dict(info, role="ai")
        self._first_audio: dict[str, float] = {}
        # A backend may settle a line before or after the caller cuts it: either order works.
        self._cuts: OrderedDict[str, tuple[int, int]] = OrderedDict()
        self._stored: OrderedDict[str, bool] = OrderedDict()

    def observe(self, event: object) -> None:
        """Note one agent event; queues DB writes for final AI lines and turn metrics."""
        if isinstance(event, AudioOut):
            self._first_audio.setdefault(event.item_id, time.time())
        elif isinstance(event, Transcript) and event.final and event.speaker == "ai":
            self._store_ai_line(event)
        elif isinstance(event, TurnMetrics):
            self.submit(store_turn_metric, self.info, event, time.time())

    def interrupted(self, item_id: str | None, heard_ms: int, generated_ms: int) -> None:
        """A barge-in cut `item_id` after `heard_ms` of `generated_ms` of its audio."""
        if not item_id or item_id in self._cuts:  # the first cut is the one that counts
            return
        _remember(self._cuts, item_id, (heard_ms, generated_ms))
        if item_id in self._stored:
            self.submit(mark_interrupted, self.info, item_id, heard_ms, generated_ms)

    def _store_ai_line(self, event: Transcript) -> None:
        now = time.time()
        item = event.item_id or ""
        started = self._first_audio.pop(item, now)
        text, cut = event.text, self._cuts.get(item)
        if cut is not None:
            text = truncate_text(text, *cut)
            if not heard_words(text):
                return
        if item:
            _remember(self._stored, item, True)
        self.submit(store_line, self.info, text, started, now, "ai", item or None,
                    cut is not None)
