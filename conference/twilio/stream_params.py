"""`<Parameter>` sets for fork and AI streams, with short-lived signed tokens."""
from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy.orm as so
from flask import current_app

from conference.twilio.security import make_stream_token
from models import Conference, Participant, Tenant


def _epoch(moment: datetime | None) -> float | None:
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def stream_token(conference: Conference, kind: str, label: str,
                 call_sid: str | None = None, issued_at: datetime | None = None,
                 cap: int | None = None, user: int | None = None) -> str:
    """A token the stream sockets verify: conference, tenant, kind, label and the call it is for.

    The sockets accept only tokens whose `call` is the stream's own callSid; a token without
    one (the AI's dial address) serves the Voice URL lookup and opens no stream.
    """
    claims = {"conference": conference.name, "tenant": conference.tenant_id, "kind": kind,
              "label": label}
    if call_sid:
        claims["call"] = call_sid
    if cap is not None:
        claims["cap"] = cap  # the tenant's AI cap, enforced at the socket without a DB read
    if user is not None:
        claims["user"] = user  # a browser supervisor's console user
    return make_stream_token(current_app.config["SECRET_KEY"], claims, _epoch(issued_at))


def _ai_cap(conference: Conference) -> int | None:
    session = so.object_session(conference)
    tenant = session.get(Tenant, conference.tenant_id) if session is not None else None
    return tenant.max_ai_sessions if tenant is not None else None


def fork_parameters(conference: Conference, participant: Participant) -> dict[str, str]:
    """Custom parameters of a human leg's fork stream."""
    return {
        "conference": conference.name,
        "tenant": str(conference.tenant_id),
        "label": participant.label,
        "role": participant.role,
        "token": stream_token(conference, "fork", participant.label, participant.call_sid,
                              participant.joined_at or participant.created_at),
    }


def ai_parameters(
    conference: Conference, agent: str, mode: str, coach_label: str | None,
    call_sid: str | None = None, ai: Participant | None = None,
) -> dict[str, str]:
    """Custom parameters of the AI's bidirectional stream (its token bound to `call_sid`)."""
    return {
        "conference": conference.name,
        "tenant": str(conference.tenant_id),
        "agent": agent,
        "mode": mode,
        "coach": coach_label or "",
        "token": stream_token(conference, "ai", "ai", call_sid, ai.created_at if ai else None,
                              cap=_ai_cap(conference)),
    }


# A stream's name must be unique per call, including streams that already ended
# (https://www.twilio.com/docs/voice/twiml/stream#attributes-name, "unique per call"), so every
# re-fork and every AI reconnect carries a counter.
def fork_stream_name(participant: Participant, n: int = 1) -> str:
    """The name of `participant`'s `n`th fork on its call (lets it be stopped by name)."""
    return f"fork-{participant.label}-{n}"


def ai_stream_name(n: int = 1) -> str:
    """The name of the `n`th AI stream on the AI leg's call."""
    return f"ai-{n}"
