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


def check_name(value) -> str | None:
    """A conference name: 1-64 of letters, digits, '.', '_' or '-', starting alphanumeric."""
    if not isinstance(value, str) or not value:
        return "required string"
    if not NAME_RE.fullmatch(value):
        return "1-64 characters from A-Z a-z 0-9 . _ -, starting with a letter or digit"
    return None


def check_label(value) -> str | None:
    """A participant label: same alphabet as names; `ai` and `supervisor-*` are reserved."""
    problem = check_name(value)
    if problem:
        return problem
    if value in RESERVED_LABELS or value.startswith("supervisor-"):
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
