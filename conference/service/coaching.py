"""Whisper (coach) modes that wait for the coached leg.

Twilio refuses Coaching/CallSidToCoach unless the coached call is connected to the in-progress
conference (https://www.twilio.com/docs/api/errors/13240) and not on hold
(https://www.twilio.com/docs/api/errors/16027); see also CallSidToCoach on
https://www.twilio.com/docs/voice/api/conference-participant-resource. So a whisperer whose
target has not joined is dialed muted (never speaking to the customer by mistake) and switched to
coaching by the target's participant-join callback. A refusal is recorded, never fatal.
"""
from __future__ import annotations

import uuid

import sqlalchemy.orm as so

from conference.logs import get_logger
from conference.twilio.gateway import GatewayError, get_gateway
from models import Conference, ConferenceEvent, Participant

log = get_logger("service.coaching")
COACH_REFUSALS = (13240, 16027)


def coach_target(conf: Conference, coach_label: str | None) -> Participant | None:
    """The present participant `coach_label` of `conf`, or None."""
    return next((p for p in conf.participants
                 if p.label == coach_label and p.is_present), None)


def ready_target(conf: Conference, coach_label: str | None) -> str | None:
    """The CallSid to coach when Twilio would accept it now (joined, not on hold), else None."""
    target = coach_target(conf, coach_label)
    if target is None or target.status != "joined" or target.hold or not target.call_sid:
        return None
    # In progress: conference-start arrived, or two legs joined (it may arrive after the joins).
    joined = sum(p.status == "joined" for p in conf.participants)
    started = conf.status == "in-progress" or (conf.is_active and joined >= 2)
    return target.call_sid if started else None


def whisper_flags(conf: Conference, coach_label: str | None) -> dict:
    """Row flags of a whisperer: coaching if the target is ready, else muted and pending."""
    if ready_target(conf, coach_label):
        return {"muted": False, "coaching": True}
    return {"muted": True, "coaching": False}


def _record(session: so.Session, conf: Conference, event: str, **payload) -> None:
    session.add(ConferenceEvent(conference_id=conf.id, source="api", event=event,
                                payload=payload, dedup_key=f"api:{uuid.uuid4().hex}"))


def _switch(session: so.Session, conf: Conference, p: Participant, target_sid: str) -> None:
    try:
        get_gateway().update_participant(conf.twilio_sid, p.call_sid, muted=False,
                                         coaching=True, call_sid_to_coach=target_sid)
    except GatewayError as exc:
        # The whisperer stays muted; nobody is hung up.
        log.warning("coach refused: %s", exc.code, extra={"conference": conf.name,
                                                          "label": p.label})
        _record(session, conf, "coach-refused", label=p.label, coach=p.coach_label,
                code=exc.code, reason=exc.message)
        return
    p.muted, p.coaching = False, True
    _record(session, conf, "coach-started", label=p.label, coach=p.coach_label)


def activate_pending(session: so.Session, conf: Conference) -> int:
    """Switch every pending whisperer whose target (and itself) has joined; how many did."""
    switched = 0
    for p in conf.participants:
        if not (p.pending_coach and p.status == "joined" and p.call_sid and conf.twilio_sid):
            continue
        target_sid = ready_target(conf, p.coach_label)
        if target_sid:
            _switch(session, conf, p, target_sid)
            switched += p.coaching
    return switched


def target_left(session: so.Session, conf: Conference, target: Participant) -> None:
    """The coached leg left: its whisperers go back to muted and pending."""
    for p in conf.participants:
        if not (p.mode == "whisper" and p.coaching and p.coach_label == target.label
                and p.is_present and p.call_sid and conf.twilio_sid):
            continue
        try:
            get_gateway().update_participant(conf.twilio_sid, p.call_sid, muted=True,
                                             coaching=False)
        except GatewayError as exc:
            _record(session, conf, "coach-stop-refused", label=p.label, code=exc.code,
                    reason=exc.message)
            continue
        p.muted, p.coaching = True, False
        _record(session, conf, "coach-paused", label=p.label, coach=p.coach_label)
