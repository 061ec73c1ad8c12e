"""Sans-I/O checks Twilio documents for conference participants (labels, coaching).

Each returns None, or (error code, message) for the caller to raise over REST or to apply in
TwiML. `strict=False` keeps the older, kinder behaviour (see strictness.py).
"""
from __future__ import annotations

import re

CALL_SID = re.compile(r"^CA[0-9a-fA-F]{32}$")
MAX_LABEL = 128


def label_problem(label: str | None, strict: bool = True) -> str | None:
    """Why a participant label is refused, or None.

    https://www.twilio.com/docs/voice/api/conference-participant-resource (Label: "at most 128
    characters"; it addresses the participant in the URL in place of the CallSid, so it may not
    look like one nor hold '/'). The code for these refusals is not documented (UNVERIFIED:
    20001 over REST; TwiML treats it like a duplicate label, 16025).
    """
    if label is None or not strict:
        return None
    if len(label) > MAX_LABEL:
        return f"Label must be at most {MAX_LABEL} characters"
    if "/" in label:
        return "Label must not contain '/'"
    if CALL_SID.match(label):
        return "Label must not look like a CallSid"
    if not label.strip():
        return "Label must not be blank"
    return None


def coach_problem(room, target: str | None, strict: bool = True) -> tuple[int, str] | None:
    """Why `target` cannot be coached in `room`, or None.

    https://www.twilio.com/docs/voice/api/conference-participant-resource (CallSidToCoach) and
    https://www.twilio.com/docs/api/errors/13240: the coached call must be connected to this
    conference, which must be in progress; https://www.twilio.com/docs/api/errors/16027: a
    participant on hold cannot be coached.
    """
    conf = room.conf
    if not target or target not in conf.participants:
        return 13240, "CallSidToCoach is not a participant of this conference"
    if not strict:
        return None
    if target not in room.members or conf.participants[target].status != "connected":
        return 13240, "CallSidToCoach is not connected to the conference yet"
    if not room.started:
        return 13240, "the conference is not in progress"
    if conf.participants[target].hold:
        return 16027, "the participant to coach is on hold"
    return None
