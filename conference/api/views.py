"""JSON shapes of conferences, participants, streams and events."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from models import Conference, ConferenceEvent, Participant, Stream, get_session

RECENT_EVENTS = 50
# Payload fields an event may show. Twilio's raw callbacks carry AccountSid, From/To numbers and
# more; media events may carry transcript text or DTMF digits (PINs): none of that is listed here.
EVENT_FIELDS = frozenset({
    # Twilio status callbacks
    "StatusCallbackEvent", "CallSid", "CallStatus", "Label", "SequenceNumber", "Muted", "Hold",
    "Coaching", "StreamSid", "StreamEvent", "StreamError", "ReasonConferenceEnded",
    # media plane
    "speaker", "label", "barge_in", "heard_ms", "flushed_ms", "item_id", "reason", "stream_sid",
    # operator actions
    "labels", "role", "mode", "coach", "agent", "code",
})
MAX_VALUE_CHARS = 200


def _ts(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _short(value):
    if isinstance(value, str):
        return value[:MAX_VALUE_CHARS]
    if isinstance(value, list):
        return [_short(v) for v in value[:50] if isinstance(v, str | int | float | bool)]
    return value if isinstance(value, int | float | bool) or value is None else None


def event_payload(payload: dict | None) -> dict:
    """The allow-listed fields of an event's stored payload (never tokens, numbers or text)."""
    return {k: _short(v) for k, v in (payload or {}).items() if k in EVENT_FIELDS}


def participant_json(p: Participant) -> dict:
    """One participant."""
    return {
        "label": p.label, "role": p.role, "mode": p.mode, "status": p.status,
        "call_sid": p.call_sid, "muted": p.muted, "hold": p.hold, "coaching": p.coaching,
        "coach": p.coach_label, "pending_coach": p.pending_coach, "forked": p.fork_started,
        "joined_at": _ts(p.joined_at), "left_at": _ts(p.left_at),
    }


def ai_json(conf: Conference) -> dict | None:
    """The AI's state: the live AI participant, else the last one, else None."""
    p = conf.latest_ai
    if p is None:
        return None
    return {"agent": p.agent, "mode": p.mode, "coach": p.coach_label,
            "pending_coach": p.pending_coach, "status": p.status,
            "call_sid": p.call_sid, "present": p.is_present}


def conference_json(conf: Conference) -> dict:
    """A conference with its participants and AI state."""
    return {
        "name": conf.name, "status": conf.status, "twilio_sid": conf.twilio_sid,
        "created_at": _ts(conf.created_at), "started_at": _ts(conf.started_at),
        "ended_at": _ts(conf.ended_at),
        "participants": [participant_json(p) for p in conf.participants],
        "ai": ai_json(conf),
    }


AUDIO_FIELDS = ("received", "first_index", "end_index", "fed")


def stream_audio(session, conf: Conference) -> dict[str, dict]:
    """Per ended AI stream, what its socket brought in (frame counts and replay-ring indexes:
    frames past `fed` had not reached the backend yet and are replayed into it)."""
    rows = session.scalars(sa.select(ConferenceEvent).where(
        ConferenceEvent.conference_id == conf.id, ConferenceEvent.event == "ai-stream-audio"))
    out = {}
    for e in rows:
        payload = e.payload or {}
        if isinstance(payload.get("stream_sid"), str):
            out[payload["stream_sid"]] = {k: payload.get(k) for k in AUDIO_FIELDS
                                          if isinstance(payload.get(k), int)}
    return out


def conference_detail_json(conf: Conference) -> dict:
    """A conference plus its streams and most recent events."""
    session = get_session()
    streams = session.scalars(
        sa.select(Stream).where(Stream.conference_id == conf.id).order_by(Stream.id))
    events = session.scalars(
        sa.select(ConferenceEvent).where(ConferenceEvent.conference_id == conf.id)
        .order_by(ConferenceEvent.id.desc()).limit(RECENT_EVENTS))
    audio = stream_audio(session, conf)
    return {
        **conference_json(conf),
        "streams": [
            {"stream_sid": s.stream_sid, "call_sid": s.call_sid, "kind": s.kind,
             "track": s.track, "name": s.name, "status": s.status,
             "started_at": _ts(s.started_at), "stopped_at": _ts(s.stopped_at)}
            | ({"audio": audio[s.stream_sid]} if s.stream_sid in audio else {})
            for s in streams
        ],
        "events": [
            {"source": e.source, "event": e.event, "sequence_number": e.sequence_number,
             "call_sid": e.call_sid, "received_at": _ts(e.received_at),
             "payload": event_payload(e.payload)}
            for e in events
        ],
    }
