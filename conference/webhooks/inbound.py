"""Routing for calls that reach us through TwiML: inbound callers and the AI's App leg."""
from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import current_app

from conference.service.callbacks import CA_RE, BadWebhook
from conference.service.validation import NAME_RE, check_label
from conference.twilio.security import read_stream_token, stream_token_keys
from models import Conference, Participant, Tenant


class Unroutable(Exception):
    """The call cannot be placed; the message is spoken to the caller."""


def _tenant_for(session: so.Session, values: Mapping) -> Tenant | None:
    tenant_param = values.get("tenant")
    if tenant_param:
        if not tenant_param.isdigit():
            raise BadWebhook("invalid parameter tenant")
        return session.get(Tenant, int(tenant_param))
    called = values.get("To") or values.get("Called")
    if not called:
        return None
    return session.scalar(sa.select(Tenant).where(Tenant.phone_number == called))


def _free_label(conf: Conference, wanted: str) -> str:
    taken = {p.label for p in conf.participants}
    label, n = wanted, 1
    while label in taken:
        n += 1
        label = f"{wanted}-{n}"
    return label


def admit_caller(session: so.Session, call_sid: str, values: Mapping):
    """(conference, participant) for an inbound caller: by `room` param, else a room per call."""
    room = values.get("room")
    if room is not None and not NAME_RE.fullmatch(room):
        raise BadWebhook("invalid parameter room")
    tenant = _tenant_for(session, values)
    if tenant is None:
        raise Unroutable("This number is not in service. Goodbye.")
    name = room or f"call-{call_sid}"
    # Row lock: concurrent callers into one room pick their labels one at a time.
    conf = session.scalar(sa.select(Conference).where(
        Conference.tenant_id == tenant.id, Conference.name == name).with_for_update())
    if conf is None:
        conf = Conference(tenant_id=tenant.id, name=name, status="pending")
        session.add(conf)
    elif not conf.is_active:
        raise Unroutable("This conference has ended. Goodbye.")
    p = session.scalar(sa.select(Participant).where(Participant.call_sid == call_sid))
    if p is None:
        wanted = values.get("label") or "customer"
        if check_label(wanted):
            raise BadWebhook("invalid parameter label")
        # The TwiML forks this leg itself, so the join callback must not fork it again.
        p = Participant(call_sid=call_sid, label=_free_label(conf, wanted), role="customer",
                        status="in-progress", fork_started=True, to=values.get("From"))
        conf.participants.append(p)
    session.flush()
    return conf, p


def resolve_ai_leg(session: so.Session, values: Mapping):
    """(conference, its present AI participant or None) for a request to the AI Voice URL."""
    conf = None
    claims = read_stream_token(stream_token_keys(current_app.config), values.get("token") or "",
                               current_app.config["STREAM_TOKEN_TTL_S"])
    if claims and claims.get("kind") == "ai":
        conf = session.scalar(sa.select(Conference).where(
            Conference.tenant_id == claims["tenant"], Conference.name == claims["conference"]))
    if conf is None:
        # Custom parameters may not arrive; fall back to the legs we dialed ourselves.
        sids = [s for s in (values.get("CallSid"), values.get("ParentCallSid")) if s]
        if any(not CA_RE.match(s) for s in sids):
            raise BadWebhook("invalid parameter ParentCallSid")
        p = session.scalar(sa.select(Participant).where(
            Participant.call_sid.in_(sids), Participant.role == "ai"))
        conf = p.conference if p else None
    if conf is None:
        raise BadWebhook("unknown AI leg: no valid token and no known CallSid")
    return conf, conf.live_ai
