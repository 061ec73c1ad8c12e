"""Field checks shared by the admin API and the service layer; each returns a problem or None."""
from __future__ import annotations

import re

from flask import current_app, has_app_context

from conference.security.destinations import destination_problem

# Always used with fullmatch: `$` alone would accept a trailing newline.
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
# E.164, or a SIP / Client address (what the Participants API dials).
TO_RE = re.compile(r"\+[1-9]\d{6,14}|sip:[^\s]{3,250}|client:[A-Za-z0-9_.@-]{1,120}")
HUMAN_ROLES = ("customer", "agent")
AI_MODES = ("speak", "whisper", "listen")
SUPERVISOR_MODES = ("listen", "whisper", "barge")
RESERVED_LABELS = ("ai",)
BROWSER_PREFIX = "console-"  # labels of browser supervisors (conference.service.browser)
RESERVED_PREFIXES = ("supervisor-", BROWSER_PREFIX)  # phone and browser supervisors
# https://www.twilio.com/docs/voice/api/conference-participant-resource (Label): at most 128
# characters, and it stands in for the CallSid in the participant's URL, so Twilio refuses one
# that looks like a CallSid or holds '/'.
CALL_SID_RE = re.compile(r"^CA[0-9a-fA-F]{32}$")
TWILIO_MAX_LABEL = 128


def check_name(value) -> str | None:
    """A conference name: 1-64 of letters, digits, '.', '_' or '-', starting alphanumeric."""
    if not isinstance(value, str) or not value:
        return "required string"
    if not NAME_RE.fullmatch(value):
        return "1-64 characters from A-Z a-z 0-9 . _ -, starting with a letter or digit"
    return None


def check_label(value) -> str | None:
    """A participant label: Twilio's label rules, then the names' alphabet; some are reserved."""
    if isinstance(value, str):
        if len(value) > TWILIO_MAX_LABEL:
            return f"at most {TWILIO_MAX_LABEL} characters (Twilio refuses longer labels)"
        if "/" in value:
            return "must not contain '/' (Twilio refuses it in a label)"
        if CALL_SID_RE.match(value):
            return "must not look like a CallSid (Twilio refuses CA + 32 hex digits)"
    problem = check_name(value)
    if problem:
        return problem
    if value in RESERVED_LABELS or value.startswith(RESERVED_PREFIXES):
        return f"label {value!r} is reserved"
    return None


def check_to(value) -> str | None:
    """A dialable address: E.164 number, sip: or client:."""
    if not isinstance(value, str) or not value:
        return "required string"
    if not TO_RE.fullmatch(value):
        return "must be an E.164 number (+15551234567), sip:… or client:…"
    if has_app_context():
        return destination_problem(value, current_app.config)
    return None


def check_choice(value, choices: tuple[str, ...]) -> str | None:
    """One of `choices`."""
    if value not in choices:
        return f"must be one of {', '.join(choices)}"
    return None


def check_agent(value) -> str | None:
    """An agent backend name."""
    if not isinstance(value, str) or not NAME_RE.fullmatch(value):
        return "required agent name (letters, digits, . _ -)"
    return None


def mode_flags(mode: str) -> tuple[bool, bool]:
    """(muted, coaching) for a mode: listen is muted, whisper coaches, speak/barge are open."""
    return mode == "listen", mode == "whisper"
CONFERENCE_STATUSES = ("pending", "in-progress", "completed", "failed")
