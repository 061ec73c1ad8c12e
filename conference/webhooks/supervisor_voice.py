"""A browser supervisor's leg at the TwiML App's Voice URL (`leg=supervisor` in its address).

It answers one `<Connect><Stream>` and no action URL: when the stream ends (the browser left,
its socket was lost) the TwiML is over, the call hangs up and the participant leaves
(https://www.twilio.com/docs/voice/twiml/connect: without `action`, Twilio moves on to the
next verb, and after the last one the call ends).
"""
from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import current_app

from conference.service.callbacks import CA_RE, BadWebhook
from conference.twilio import urls
from conference.twilio.security import read_stream_token, stream_token_keys
from conference.twilio.stream_params import stream_token
from models import Conference, Participant


def _claims(values: Mapping) -> dict:
    cfg = current_app.config
    claims = read_stream_token(stream_token_keys(cfg), values.get("token") or "",
                               cfg["STREAM_TOKEN_TTL_S"])
    if not isinstance(claims, dict) or claims.get("kind") != "supervisor" \
            or not isinstance(claims.get("user"), int):
        raise BadWebhook("invalid supervisor token")
    return claims


def stream_context(session: so.Session, values: Mapping, call_sid: str) -> dict | None:
    """Template context of supervisor_stream.xml, or None when the leg should hang up."""
    claims = _claims(values)
    conf = session.scalar(sa.select(Conference).where(
        Conference.tenant_id == claims["tenant"], Conference.name == claims["conference"])
        .with_for_update())
    if conf is None or not conf.is_active:
        return None
    p = next((x for x in conf.participants
              if x.label == claims["label"] and x.role == "supervisor"), None)
    if p is None or not p.is_present:
        return None  # the page closed while the leg rang
    parent = values.get("ParentCallSid")
    sids = {call_sid} | ({parent} if parent and CA_RE.match(parent) else set())
    if p.call_sid is not None and p.call_sid not in sids:
        return None  # a stale leg of an earlier page
    p.call_sid = p.call_sid or call_sid
    return {"stream_name": p.label, "stream_url": urls.supervisor_stream_url(),
            "parameters": _parameters(conf, p, claims["user"], call_sid)}


def _parameters(conf: Conference, p: Participant, user: int, call_sid: str) -> dict[str, str]:
    return {"conference": conf.name, "tenant": str(conf.tenant_id), "label": p.label,
            "token": stream_token(conf, "supervisor", p.label, call_sid, user=user)}
