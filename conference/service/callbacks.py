"""Twilio status callbacks -> state. Idempotent: each callback is stored once (dedup_key), and
state only moves forward, so duplicates, reordering and late arrivals change nothing wrongly."""
from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

import sqlalchemy as sa
import sqlalchemy.exc as sa_exc
import sqlalchemy.orm as so

from conference.logs import get_logger
from conference.service import autoend, coaching, redial
from conference.service.base import mark_conference_ended
from conference.service.forks import refork, start_fork, upsert_stream
from models import Conference, ConferenceEvent, Participant
from models.conference import parse_friendly_name
from models.times import utcnow

log = get_logger("callbacks")
CF_RE, CA_RE, MZ_RE = (re.compile(rf"{p}[0-9a-fA-F]{{32}}\Z") for p in ("CF", "CA", "MZ"))
CALL_STATUSES = ("queued", "initiated", "ringing", "in-progress", "completed", "busy", "failed",
                 "no-answer", "canceled")
STREAM_EVENTS = ("stream-started", "stream-stopped", "stream-error")
# Participant statuses only move up this ladder; left/failed are terminal.
RANK = {"queued": 0, "ringing": 1, "in-progress": 2, "joined": 3, "left": 4, "failed": 4}


class BadWebhook(ValueError):
    """A callback with a missing or malformed parameter (answered 400 with the reason)."""


def _field(form: Mapping, name: str, pattern: re.Pattern | None = None, required=True):
    value = form.get(name)
    if not value:
        if required:
            raise BadWebhook(f"missing parameter {name}")
        return None
    if pattern is not None and not pattern.match(value):
        raise BadWebhook(f"invalid parameter {name}")
    return value


def _sequence(form: Mapping, required: bool) -> int | None:
    raw = _field(form, "SequenceNumber", required=required)
    if raw is None:
        return None
    if not raw.isdigit():
        raise BadWebhook("invalid parameter SequenceNumber")
    return int(raw)


def _flag(form: Mapping, name: str) -> bool | None:
    value = form.get(name)
    return None if value is None else value == "true"


def store_event(session: so.Session, source: str, event: str, form: Mapping, identity: str,
                sequence: int | None, call_sid: str | None) -> ConferenceEvent | None:
    """Insert the raw callback; None when this exact callback was stored before.

    Storing comes first so that, on SQLite, everything read afterwards is read under the write
    lock this insert takes; on PostgreSQL the handlers lock the conference row instead.
    """
    key = f"{source}:" + hashlib.sha256(identity.encode()).hexdigest()
    row = ConferenceEvent(source=source, event=event, sequence_number=sequence,
                          call_sid=call_sid, payload=stored_form(form), dedup_key=key)
    try:
        with session.begin_nested():
            session.add(row)
    except sa_exc.IntegrityError:
        return None
    return row


def _locked(session: so.Session, where) -> Conference | None:
    # One callback (or operator action) at a time per conference: no lost updates.
    return session.scalar(sa.select(Conference).where(where).with_for_update()
                          .execution_options(populate_existing=True))


def _find_conference(session: so.Session, sid: str, friendly_name: str | None):
    conf = _locked(session, Conference.twilio_sid == sid)
    if conf is None and friendly_name:
        parsed = parse_friendly_name(friendly_name)
        if parsed:
            conf = _locked(session, sa.and_(Conference.tenant_id == parsed[0],
                                            Conference.name == parsed[1]))
            if conf is not None and conf.twilio_sid is None:
                conf.twilio_sid = sid
    return conf


def _participant_locked(session: so.Session, call_sid: str) -> Participant | None:
    """The participant on `call_sid`, read after locking its conference."""
    conf_id = session.scalar(sa.select(Participant.conference_id)
                             .where(Participant.call_sid == call_sid))
    if conf_id is None:
        return None
    _locked(session, Conference.id == conf_id)
    return session.scalar(sa.select(Participant).where(Participant.call_sid == call_sid)
                          .execution_options(populate_existing=True))


def _find_participant(session: so.Session, conf: Conference | None, call_sid: str | None,
                      label: str | None) -> Participant | None:
    if call_sid:
        p = session.scalar(sa.select(Participant).where(Participant.call_sid == call_sid))
        if p is not None:
            return p
    if conf is not None and label:
        # A leg dialed by TwiML or whose create response we have not committed yet.
        p = next((x for x in conf.participants if x.label == label and x.call_sid is None), None)
        if p is not None:
            p.call_sid = call_sid
        return p
    return None


def handle_conference_event(session: so.Session, form: Mapping) -> str:
    """Store and apply one conference status callback; returns what happened."""
    sid = _field(form, "ConferenceSid", CF_RE)
    event = _field(form, "StatusCallbackEvent")
    seq = _sequence(form, required=True)
    call_sid = _field(form, "CallSid", CA_RE, required=event.startswith("participant-"))
    row = store_event(session, "conference", event, form, f"{sid}:{seq}:{event}:{call_sid}",
                      seq, call_sid)
    if row is None:
        return "duplicate"
    conf = _find_conference(session, sid, form.get("FriendlyName"))
    row.conference_id = conf.id if conf else None
    return apply_conference_event(session, conf, form)


def apply_conference_event(session: so.Session, conf: Conference | None, form: Mapping) -> str:
    """Apply a (validated) conference callback to `conf`; safe to repeat."""
    if conf is None:
        return "unknown-conference"
    event, seq = form["StatusCallbackEvent"], int(form["SequenceNumber"])
    if event == "conference-start":
        if conf.status == "pending":
            conf.status, conf.started_at = "in-progress", conf.started_at or utcnow()
            coaching.activate_pending(session, conf)
        return "applied"
    if event == "conference-end":
        if conf.is_active:
            mark_conference_ended(conf)
        return "applied"
    p = _find_participant(session, conf, form.get("CallSid"), form.get("ParticipantLabel"))
    if p is None:
        return "unknown-participant"
    return _apply_participant_event(session, conf, p, event, seq, form)


def _apply_participant_event(session, conf, p: Participant, event: str, seq: int, form) -> str:
    if not p.is_present:
        return "ignored-left"  # a late join (or mute) never resurrects a participant
    if event == "participant-leave":
        p.status, p.left_at = "left", utcnow()
        p.last_sequence = max(p.last_sequence, seq)
        coaching.target_left(session, conf, p)
        autoend.after_human_left(session, conf, p)
        redial.after_ai_left(session, conf, p)  # p was present: nobody asked it to leave
        return "applied"
    fresh = seq > p.last_sequence
    if fresh:
        for name, attr in (("Muted", "muted"), ("Hold", "hold"), ("Coaching", "coaching")):
            value = _flag(form, name)
            if value is not None:
                setattr(p, attr, value)
        p.last_sequence = seq
    if event == "participant-join":
        if p.status != "joined":
            p.status, p.joined_at = "joined", p.joined_at or utcnow()
        start_fork(session, conf, p)
        coaching.activate_pending(session, conf)  # the coached leg, or the whisperer, is in
        return "applied"
    return "applied" if fresh else "stale"


def handle_call_event(session: so.Session, form: Mapping) -> str:
    """Apply one call progress callback to the participant on that call."""
    call_sid = _field(form, "CallSid", CA_RE)
    status = _field(form, "CallStatus")
    if status not in CALL_STATUSES:
        raise BadWebhook("invalid parameter CallStatus")
    seq = _sequence(form, required=False)
    row = store_event(session, "call", status, form,
                      f"{call_sid}:{status}:{seq if seq is not None else ''}", seq, call_sid)
    if row is None:
        return "duplicate"
    p = _participant_locked(session, call_sid)
    row.conference_id = p.conference_id if p else None
    return apply_call_event(p, status)


def apply_call_event(p: Participant | None, status: str) -> str:
    """Move `p` up the status ladder for a call status; safe to repeat."""
    if p is None:
        return "unknown-participant"
    target = _call_target(p, status)
    if target is None or RANK[target] <= RANK[p.status] or not p.is_present:
        return "stale"
    p.status = target
    if target in ("left", "failed"):
        p.left_at = p.left_at or utcnow()
        _fail_conference_if_nobody_answered(p.conference)
        session = so.object_session(p)
        if session is not None:
            autoend.after_human_left(session, p.conference, p)
    return "applied"


def _call_target(p: Participant, status: str) -> str | None:
    if status == "ringing":
        return "ringing"
    if status == "in-progress":
        return "in-progress"
    if status == "completed":
        return "left"
    if status in ("busy", "failed", "no-answer", "canceled"):
        return "left" if p.joined_at else "failed"
    return None


def _fail_conference_if_nobody_answered(conf: Conference) -> None:
    if conf.status == "pending" and all(p.status == "failed" for p in conf.participants):
        conf.status, conf.ended_at = "failed", utcnow()


def handle_stream_event(session: so.Session, form: Mapping) -> str:
    """Apply one stream status callback to the Stream row (created if unseen)."""
    call_sid = _field(form, "CallSid", CA_RE)
    stream_sid = _field(form, "StreamSid", MZ_RE)
    event = _field(form, "StreamEvent")
    if event not in STREAM_EVENTS:
        raise BadWebhook("invalid parameter StreamEvent")
    row = store_event(session, "stream", event, form, f"{stream_sid}:{event}", None, call_sid)
    if row is None:
        return "duplicate"
    p = _participant_locked(session, call_sid)
    row.conference_id = p.conference_id if p else None

    status = {"stream-started": "started", "stream-stopped": "stopped"}.get(event, "failed")
    stream = upsert_stream(session, stream_sid=stream_sid, call_sid=call_sid, status=status,
                           name=form.get("StreamName"), participant=p)
    if event != "stream-started" and refork(session, stream, p):
        return "re-forked"
    return "applied"


def stored_form(form) -> dict:
    """The callback's parameters as stored, without the AI's dial token (never stored, README
    Security): Twilio echoes an `app:` address's query back as parameters of its own (`token`),
    and an `app:` To/Called keeps only `app:AP…`."""
    return {k: v.partition("?")[0] if v.startswith("app:") else v for k, v in form.items()
            if k != "token"}
