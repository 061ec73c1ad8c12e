"""Re-dial an AI that left its conference without being asked to.

An operator, a tool, end_when_humans_leave and the <Connect action> cap all mark the AI as
left before its participant-leave arrives; a leave for an AI still present is an incident
(Twilio or the network took it out). The new call is a new `app:` participant carrying
`continues=<old CallSid>`, so its stream can pick up the old call's conversation.
"""
from __future__ import annotations

import uuid

import sqlalchemy as sa
import sqlalchemy.orm as so

from conference.logs import get_logger
from conference.service.errors import ServiceError
from models import Conference, ConferenceEvent, Participant

log = get_logger("service.redial")
MAX_AI_REDIALS = 2  # per conference
HUMANS = ("customer", "agent")


def _record(session: so.Session, conf: Conference, event: str, **payload) -> None:
    session.add(ConferenceEvent(conference_id=conf.id, source="api", event=event,
                                payload=payload, dedup_key=f"api:{uuid.uuid4().hex}"))


def _redials(session: so.Session, conf: Conference) -> int:
    return session.scalar(sa.select(sa.func.count(ConferenceEvent.id)).where(
        ConferenceEvent.conference_id == conf.id, ConferenceEvent.event == "ai-redialed")) or 0


def after_ai_left(session: so.Session, conf: Conference, p: Participant) -> bool:
    """Called for an unrequested AI leave (the row was present): re-dial once; True if dialed."""
    from conference.service.roles import _attach_ai

    if p.role != "ai" or not conf.is_active:
        return False
    if not any(x.role in HUMANS and x.is_present for x in conf.participants):
        return False
    old = {"call_sid": p.call_sid, "agent": p.agent, "mode": p.mode, "coach": p.coach_label}
    if _redials(session, conf) >= MAX_AI_REDIALS:
        _record(session, conf, "ai-redial-exhausted", reason="cap reached")
        return False
    session.flush()
    try:
        with session.begin_nested():  # a refusal leaves the left row as it was
            new = _attach_ai(session, conf, old["agent"], old["mode"], old["coach"],
                             continues=old["call_sid"])
    except ServiceError as exc:
        log.warning("AI re-dial failed: %s", exc.message, extra={"conference": conf.name})
        _record(session, conf, "ai-redial-failed", reason=exc.message[:200],
                code=getattr(exc, "twilio_code", None))
        return False
    _record(session, conf, "ai-redialed", call_sid=new.call_sid, reason="unrequested leave")
    return True
