"""Operator use cases over the gateway and the models; usable in any app context, no request.

Every write runs in one transaction that also spans the Twilio call: rows are flushed, Twilio
is asked, and a GatewayError rolls everything back, so a refusal leaves no half-written state.
The AI and supervisor use cases live in roles.py; the package re-exports both.
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlalchemy.exc as sa_exc

from conference.service import orphans
from conference.service.base import (
    TWILIO_NOT_FOUND,
    _active,
    _dial,
    _hang_up_quietly,
    _new_participant,
    _require,
    _reuse,
    _tid,
    find_participant,
    get_conference,
    mark_conference_ended,
    record_api_event,
    write_transaction,
)
from conference.service.errors import Conflict, ServiceError, UpstreamError
from conference.service.roles import _attach_ai
from conference.service.validation import (
    HUMAN_ROLES,
    check_choice,
    check_label,
    check_name,
    check_to,
)
from conference.twilio.gateway import GatewayError, get_gateway
from models import Conference, Participant, Tenant, transaction
from models.times import utcnow


def create_conference(
    tenant: Tenant | int, name: str, participants: list[dict], ai: dict | None = None
) -> Conference:
    """Create conference `name`; dial `participants` ({to, role, label}) and optionally the AI."""
    _require({"name": check_name(name)})
    dialed: list[str] = []
    try:
        with transaction() as session:
            if session.scalar(sa.select(Conference.id).where(
                    Conference.tenant_id == _tid(tenant), Conference.name == name)):
                raise Conflict(f"conference {name!r} already exists", code="duplicate_name")
            conf = Conference(tenant_id=_tid(tenant), name=name, status="pending")
            session.add(conf)
            for spec in participants:
                p = _new_participant(conf, to=spec["to"], role=spec["role"], label=spec["label"])
                session.flush()
                _dial(conf, p)
                dialed.append(p.call_sid)
            if ai:
                dialed.append(_attach_ai(session, conf, ai["agent"], ai["mode"],
                                         ai.get("coach")).call_sid)
            record_api_event(session, conf, "conference-created",
                             labels=[p.label for p in conf.participants])
    except ServiceError:  # Twilio refused, or a later check failed after someone was dialed
        _hang_up_quietly(dialed)
        raise
    except sa_exc.IntegrityError as exc:
        _hang_up_quietly(dialed)
        raise Conflict(f"conference {name!r} already exists", code="duplicate_name") from exc
    orphans.adopt(conf.id, dialed)
    return conf


def add_participant(
    tenant: Tenant | int, conference_name: str, to: str, role: str, label: str
) -> Participant:
    """Dial a customer or agent into a live conference."""
    _require({"to": check_to(to), "role": check_choice(role, HUMAN_ROLES),
              "label": check_label(label)})
    with write_transaction("duplicate_label") as session:
        conf = _active(get_conference(tenant, conference_name, session, lock=True))
        existing = next((p for p in conf.participants if p.label == label), None)
        if existing is not None and existing.is_present:
            raise Conflict(f"label {label!r} is taken", code="duplicate_label")
        p = _reuse(existing, role=role, to=to) if existing else _new_participant(
            conf, to=to, role=role, label=label)
        session.flush()
        _dial(conf, p)
        record_api_event(session, conf, "participant-added", label=label, role=role)
    orphans.adopt(conf.id, [p.call_sid])
    return p


def remove_participant(
    tenant: Tenant | int, conference_name: str, label: str, role: str | None = None
) -> Participant:
    """Kick participant `label`; a participant that already left is returned unchanged."""
    with transaction() as session:
        conf = get_conference(tenant, conference_name, session, lock=True)
        p = find_participant(conf, label, role)
        if not p.is_present:
            return p
        if p.call_sid and conf.twilio_sid and conf.is_active:
            try:
                get_gateway().remove_participant(conf.twilio_sid, p.call_sid)
            except GatewayError as exc:
                if exc.code != TWILIO_NOT_FOUND:
                    raise UpstreamError(exc.code, exc.message) from exc
                # Not (or no longer) in the conference: it may still be ringing, so hang up.
                _hang_up_quietly([p.call_sid])
        p.status, p.left_at = "left", utcnow()
        record_api_event(session, conf, "participant-removed", label=label)
    return p


def end_conference(tenant: Tenant | int, conference_name: str) -> Conference:
    """Complete the conference at Twilio (Status=completed) and mark everyone left."""
    with transaction() as session:
        conf = get_conference(tenant, conference_name, session, lock=True)
        if not conf.is_active:
            return conf
        if conf.twilio_sid:
            try:
                get_gateway().end_conference(conf.twilio_sid)
            except GatewayError as exc:
                if exc.code != TWILIO_NOT_FOUND:
                    raise UpstreamError(exc.code, exc.message) from exc
        mark_conference_ended(conf)
        record_api_event(session, conf, "conference-ended")
    return conf
