"""Shared helpers of the service modules: lookups, validation, dialing, event records."""
from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa
import sqlalchemy.exc as sa_exc
import sqlalchemy.orm as so
from flask import current_app

from conference.logs import get_logger
from conference.service.errors import Conflict, Invalid, NotFound, UpstreamError
from conference.twilio import urls
from conference.twilio.gateway import GatewayError, get_gateway
from models import Conference, ConferenceEvent, Participant, Tenant, get_session, transaction
from models.times import utcnow

log = get_logger("service")
AI_LABEL = "ai"
TWILIO_NOT_FOUND = 20404
SILENT_WAIT_ROLES = ("ai", "supervisor")
# A duplicate participant label: 16026 over REST, 16025 in TwiML
# (https://www.twilio.com/docs/api/errors/16026, https://www.twilio.com/docs/api/errors/16025).
TWILIO_DUPLICATE_LABEL = (16025, 16026)
# https://www.twilio.com/docs/api/errors/13240 (target not connected / conference not in
# progress), https://www.twilio.com/docs/api/errors/16027 (target on hold).
COACH_REFUSALS = (13240, 16027)


@contextmanager
def write_transaction(conflict: str = "conflict") -> Iterator[so.Session]:
    """transaction(), but a unique-constraint race (e.g. two requests taking the same label)
    becomes a 409 Conflict instead of an IntegrityError."""
    try:
        with transaction() as session:
            yield session
    except sa_exc.IntegrityError as exc:
        raise Conflict("a concurrent request took the same name or label", code=conflict) from exc


def _tid(tenant: Tenant | int) -> int:
    return tenant if isinstance(tenant, int) else tenant.id


def _require(fields: dict[str, str | None]) -> None:
    problems = {k: v for k, v in fields.items() if v}
    if problems:
        raise Invalid("request failed validation", fields=problems)


def get_conference(tenant: Tenant | int, name: str, session: so.Session | None = None,
                   lock: bool = False) -> Conference:
    """The tenant's conference `name`, or NotFound (another tenant's is not found either).

    Writers pass lock=True: the row lock serializes them with status callbacks (PostgreSQL).
    """
    session = session or get_session()
    query = sa.select(Conference).where(Conference.tenant_id == _tid(tenant),
                                        Conference.name == name)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    conf = session.scalar(query)
    if conf is None:
        raise NotFound(f"no conference {name!r}")
    return conf


def list_conferences(tenant: Tenant | int, status: str | None = None) -> list[Conference]:
    """The tenant's conferences, newest first."""
    query = (sa.select(Conference).where(Conference.tenant_id == _tid(tenant))
             .options(so.selectinload(Conference.participants)))
    if status:
        query = query.where(Conference.status == status)
    return list(get_session().scalars(query.order_by(Conference.id.desc())))


def find_participant(conf: Conference, label: str, role: str | None = None) -> Participant:
    """Participant `label` of `conf` (optionally of `role`), or NotFound."""
    for p in conf.participants:
        if p.label == label and (role is None or p.role == role):
            return p
    raise NotFound(f"no participant {label!r} in conference {conf.name!r}")


def _active(conf: Conference) -> Conference:
    if not conf.is_active:
        raise Conflict(f"conference {conf.name!r} has {conf.status}", code="conference_ended")
    return conf


def record_api_event(session: so.Session, conf: Conference, event: str, **payload) -> None:
    """Store an operator action next to Twilio's callbacks."""
    session.add(ConferenceEvent(conference_id=conf.id, source="api", event=event,
                                payload=payload, dedup_key=f"api:{uuid.uuid4().hex}"))


def _dial(conf: Conference, p: Participant, *, beep: bool = True, jitter: str | None = None,
          address: str | None = None):
    """Dial `p` (at `address`, default p.to) into `conf`; GatewayError -> UpstreamError."""
    cfg = current_app.config
    coached = _coach_call_sid(conf, p.coach_label) if p.coaching else None
    try:
        info = get_gateway().add_participant(
            conf.twilio_name, to=address or p.to, from_=cfg["TWILIO_CALLER_ID"], label=p.label,
            muted=p.muted, coaching=p.coaching, call_sid_to_coach=coached, beep=beep,
            status_callback=urls.call_events_url(),
            conference_status_callback=urls.conference_events_url(), jitter_buffer_size=jitter,
            # The AI's VAD and STT, and a listening supervisor, must not hear hold music.
            wait_url="" if p.role in SILENT_WAIT_ROLES else None,
        )
    except GatewayError as exc:
        if p.coaching and exc.code in COACH_REFUSALS:
            # The target is not coachable yet after all: dial muted, pending its join.
            p.muted, p.coaching = True, False
            record_api_event(so.object_session(conf), conf, "coach-refused", label=p.label,
                             coach=p.coach_label, code=exc.code, reason=exc.message)
            return _dial(conf, p, beep=beep, jitter=jitter, address=address)
        if exc.code in TWILIO_DUPLICATE_LABEL:
            raise Conflict(f"label {p.label!r} is already in the conference at Twilio",
                           code="duplicate_label") from exc
        raise UpstreamError(exc.code, exc.message) from exc
    p.call_sid, p.status = info.call_sid, "queued"
    conf.twilio_sid = conf.twilio_sid or info.conference_sid
    log.info("dialed", extra={"conference": conf.name, "call_sid": p.call_sid, "label": p.label})


def _coach_call_sid(conf: Conference, coach_label: str | None) -> str:
    # Only asked for when coaching.ready_target() said the target can be coached now.
    from conference.service.coaching import ready_target

    call_sid = ready_target(conf, coach_label)
    if call_sid is None:
        raise Invalid("coach is not in the conference", fields={"coach": "not joined yet"})
    return call_sid


def _hang_up_quietly(call_sids: Iterable[str]) -> None:
    # Compensation after a later dial failed: the earlier legs must not ring on unrecorded.
    for call_sid in call_sids:
        try:
            get_gateway().hangup_call(call_sid)
        except GatewayError as exc:
            log.warning("compensating hangup failed: %s", exc.code, extra={"call_sid": call_sid})


def _new_participant(conf: Conference, **fields) -> Participant:
    p = Participant(**fields)
    conf.participants.append(p)
    return p


def _reuse(p: Participant, **fields) -> Participant:
    """Reset a participant that left so its label can be dialed again."""
    reset = dict(call_sid=None, status="queued", fork_started=False, last_sequence=-1,
                 joined_at=None, left_at=None, muted=False, hold=False, coaching=False,
                 coach_label=None, mode=None)
    for key, value in {**reset, **fields}.items():
        setattr(p, key, value)
    return p


def mark_conference_ended(conf: Conference, status: str = "completed") -> None:
    """Set the conference's terminal state and close every participant still present."""
    now = utcnow()
    conf.status, conf.ended_at = status, conf.ended_at or now
    for p in conf.participants:
        if p.is_present:
            p.status, p.left_at = "left", now
