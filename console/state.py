"""Read models for the console: what a supervisor may see of a conference, as plain dicts.

Only allow-listed fields leave here: never call tokens, phone numbers, API keys or raw
Twilio payloads. Transcript text is returned as data and escaped by Jinja / textContent.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from models import (
    AgentProfileRecord,
    Conference,
    ConferenceEvent,
    ConferenceSummary,
    Participant,
    ToolCallRecord,
    TranscriptEntry,
    get_session,
)
from models.times import utcnow

SPEECH_WINDOW = timedelta(seconds=30)  # a start older than this without a stop is stale
MARKER_WINDOW = timedelta(seconds=10)  # "just happened" for barge-in / dropped-stream markers
DROPPED_STREAM_EVENTS = ("stream-error",)
RECENT_EVENTS = 50
RECENT_TOOL_CALLS = 20
EVENT_FIELDS = ("label", "role", "mode", "coach", "agent", "speaker", "reason", "Muted", "Hold",
                "Coaching", "StreamError", "ReasonConferenceEnded")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def participant_state(p: Participant) -> str:
    """One word for the board: ringing, joined, muted, coaching, hold or left."""
    if not p.is_present:
        return "left"
    if p.status in ("queued", "ringing", "in-progress") and p.joined_at is None:
        return "ringing"
    if p.hold:
        return "hold"
    if p.coaching:
        return "coaching"
    return "muted" if p.muted else "joined"


def participant_view(p: Participant, speaking: frozenset[str] = frozenset()) -> dict:
    """A participant without its number or call token."""
    return {"label": p.label, "role": p.role, "mode": p.mode, "state": participant_state(p),
            "coach": p.coach_label if p.coaching or p.mode == "whisper" else None,
            "present": p.is_present, "joined_at": _iso(p.joined_at),
            "speaking": p.is_present and p.label in speaking}


def speaking_labels(conf: Conference) -> frozenset[str]:
    """Labels whose last fork-VAD edge (recent) was a start: they are talking now."""
    rows = get_session().execute(sa.select(ConferenceEvent.event, ConferenceEvent.payload).where(
        ConferenceEvent.conference_id == conf.id, ConferenceEvent.source == "media",
        ConferenceEvent.event.in_(("speech-started", "speech-stopped")),
        ConferenceEvent.received_at >= utcnow() - SPEECH_WINDOW).order_by(ConferenceEvent.id))
    last: dict[str, str] = {}
    for event, payload in rows:
        last[str((payload or {}).get("speaker"))] = event
    return frozenset(label for label, event in last.items() if event == "speech-started")


def _backend(tenant_id: int, agent: str | None) -> str:
    record = get_session().scalar(sa.select(AgentProfileRecord.backend).where(
        AgentProfileRecord.tenant_id == tenant_id, AgentProfileRecord.name == (agent or "")))
    return record or current_app.config.get("AI_BACKEND") or "local"


def ai_view(conf: Conference) -> dict | None:
    """The AI's agent, mode and backend (the live AI, else the last one)."""
    p = conf.latest_ai
    if p is None:
        return None
    return {"agent": p.agent, "mode": p.mode, "coach": p.coach_label, "present": p.is_present,
            "backend": _backend(conf.tenant_id, p.agent)}


def _markers(conf: Conference) -> dict:
    since = utcnow() - MARKER_WINDOW
    rows = get_session().execute(sa.select(ConferenceEvent.event, ConferenceEvent.payload).where(
        ConferenceEvent.conference_id == conf.id, ConferenceEvent.received_at >= since)).all()
    return {
        "barge_in": any(e == "barge-in" or (e == "speech-started" and (p or {}).get("barge_in"))
                        for e, p in rows),
        "dropped_stream": any(e in DROPPED_STREAM_EVENTS for e, _ in rows),
    }


def conference_view(conf: Conference) -> dict:
    """Live state of one conference for the board and the conference page."""
    speaking = speaking_labels(conf)
    return {"name": conf.name, "status": conf.status, "created_at": _iso(conf.created_at),
            "started_at": _iso(conf.started_at), "ended_at": _iso(conf.ended_at),
            "participants": [participant_view(p, speaking) for p in conf.participants],
            "ai": ai_view(conf), "markers": _markers(conf)}


def live_conferences(tenant_id: int) -> list[Conference]:
    """The tenant's pending and in-progress conferences, newest first."""
    return list(get_session().scalars(sa.select(Conference).where(
        Conference.tenant_id == tenant_id, Conference.status.in_(("pending", "in-progress")))
        .order_by(Conference.created_at.desc(), Conference.id.desc())))


def ended_conferences(tenant_id: int, limit: int = 100) -> list[Conference]:
    """The tenant's completed and failed conferences, most recently ended first."""
    return list(get_session().scalars(sa.select(Conference).where(
        Conference.tenant_id == tenant_id, Conference.status.in_(("completed", "failed")))
        .order_by(Conference.ended_at.desc(), Conference.id.desc()).limit(limit)))


def board_view(tenant_id: int) -> dict:
    """Every live conference of the tenant."""
    return {"conferences": [conference_view(c) for c in live_conferences(tenant_id)]}


def transcript(conf: Conference) -> list[dict]:
    """Speaker-labelled transcript lines in spoken order."""
    rows = get_session().scalars(sa.select(TranscriptEntry).where(
        TranscriptEntry.conference_id == conf.id)
        .order_by(TranscriptEntry.started_at, TranscriptEntry.seq, TranscriptEntry.id))
    return [{"speaker": e.speaker, "role": e.role, "text": e.text, "interrupted": e.interrupted,
             "started_at": _iso(e.started_at)} for e in rows]


def tool_calls(conf: Conference) -> list[dict]:
    """The AI's recent tool calls: name, status, time (arguments may hold caller data)."""
    rows = get_session().scalars(sa.select(ToolCallRecord).where(
        ToolCallRecord.conference_id == conf.id)
        .order_by(ToolCallRecord.id.desc()).limit(RECENT_TOOL_CALLS))
    return [{"name": t.name, "status": t.status, "created_at": _iso(t.created_at)} for t in rows]


def events(conf: Conference) -> list[dict]:
    """Recent events with allow-listed payload fields only."""
    rows = get_session().scalars(sa.select(ConferenceEvent).where(
        ConferenceEvent.conference_id == conf.id)
        .order_by(ConferenceEvent.id.desc()).limit(RECENT_EVENTS))
    return [{"source": e.source, "event": e.event, "received_at": _iso(e.received_at),
             "details": {k: str(v)[:80] for k, v in (e.payload or {}).items()
                         if k in EVENT_FIELDS}} for e in rows]


def summary(conf: Conference) -> dict | None:
    """The conference summary, if one was written."""
    row = get_session().scalar(sa.select(ConferenceSummary).where(
        ConferenceSummary.conference_id == conf.id))
    return {"text": row.text, "method": row.method} if row else None


def detail_view(conf: Conference) -> dict:
    """Everything the conference page shows live."""
    return {**conference_view(conf), "transcript": transcript(conf),
            "tool_calls": tool_calls(conf), "events": events(conf)}
