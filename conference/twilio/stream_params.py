"""`<Parameter>` sets for fork and AI streams, with short-lived signed tokens."""
from __future__ import annotations

from flask import current_app

from conference.twilio.security import make_stream_token
from models import Conference, Participant


def stream_token(conference: Conference, kind: str, label: str) -> str:
    """A token the stream sockets verify: which conference, tenant, kind and label."""
    claims = {"conference": conference.name, "tenant": conference.tenant_id, "kind": kind,
              "label": label}
    return make_stream_token(current_app.config["SECRET_KEY"], claims)


def fork_parameters(conference: Conference, participant: Participant) -> dict[str, str]:
    """Custom parameters of a human leg's fork stream."""
    return {
        "conference": conference.name,
        "tenant": str(conference.tenant_id),
        "label": participant.label,
        "role": participant.role,
        "token": stream_token(conference, "fork", participant.label),
    }


def ai_parameters(
    conference: Conference, agent: str, mode: str, coach_label: str | None
) -> dict[str, str]:
    """Custom parameters of the AI's bidirectional stream."""
    return {
        "conference": conference.name,
        "tenant": str(conference.tenant_id),
        "agent": agent,
        "mode": mode,
        "coach": coach_label or "",
        "token": stream_token(conference, "ai", "ai"),
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
