"""End a conference whose humans have all left (tenant setting `end_when_humans_leave`).

Nobody has endConferenceOnExit and the AI leg never hangs up by itself, so without this a room
with only the AI (or a supervisor) left runs until the 4-hour call limit. Ending it is a
Conference update Status=completed, which drops everyone still in it
(https://www.twilio.com/docs/voice/api/conference-resource#update-a-conference-resource).
"""
from __future__ import annotations

import uuid

import sqlalchemy.orm as so

from conference.logs import get_logger
from conference.twilio.gateway import GatewayError, get_gateway
from models import Conference, ConferenceEvent, Participant, Tenant
from models.times import utcnow

log = get_logger("service.autoend")
HUMANS = ("customer", "agent")
TWILIO_NOT_FOUND = 20404


def _record(session: so.Session, conf: Conference, event: str, **payload) -> None:
    session.add(ConferenceEvent(conference_id=conf.id, source="api", event=event,
                                payload=payload, dedup_key=f"api:{uuid.uuid4().hex}"))


def after_human_left(session: so.Session, conf: Conference, p: Participant) -> bool:
    """If `p` was the last customer/agent and the tenant wants it, end the room; True if so."""
    if p.role not in HUMANS or not conf.is_active:
        return False
    present = [x for x in conf.participants if x.is_present]
    if any(x.role in HUMANS for x in present) or not present:
        return False  # humans remain, or nobody does (Twilio ends an empty room itself)
    tenant = session.get(Tenant, conf.tenant_id)
    if tenant is None or not tenant.end_when_humans_leave:
        return False
    now = utcnow()
    for x in present:  # asked to leave by us: their leave is no incident (no AI re-dial)
        x.status, x.left_at = "left", x.left_at or now
    _record(session, conf, "humans-left", removed=[x.label for x in present])
    if conf.twilio_sid:
        try:
            get_gateway().end_conference(conf.twilio_sid)
        except GatewayError as exc:
            if exc.code != TWILIO_NOT_FOUND:
                log.warning("could not end the conference: %s", exc.code,
                            extra={"conference": conf.name})
                _record(session, conf, "end-refused", code=exc.code, reason=exc.message)
                _hang_up(session, conf, present)
                return False
    conf.status, conf.ended_at = "completed", conf.ended_at or now
    return True


def _hang_up(session: so.Session, conf: Conference, legs: list[Participant]) -> None:
    # The room could not be ended: take out the non-humans one by one instead.
    for x in legs:
        if not x.call_sid:
            continue
        try:
            get_gateway().hangup_call(x.call_sid)
        except GatewayError as exc:
            _record(session, conf, "hangup-refused", label=x.label, code=exc.code)
