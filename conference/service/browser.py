"""Browser supervisors: a console user in the conference as an `app:` leg, like the AI.

The leg is dialed through the TwiML App with `leg=supervisor`; its Voice URL answers a
`<Connect><Stream>` whose socket carries the conference audio to the browser and the browser's
microphone back. Its modes are a phone supervisor's (listen = muted, whisper = Coaching with
CallSidToCoach, pending until the target joins, barge = unmuted), switched through
`roles.set_supervisor_mode`. The browser's socket owns the leg: when it goes, the leg is removed.
"""
from __future__ import annotations

from urllib.parse import urlencode

from flask import current_app

from conference.service import orphans
from conference.service.base import (
    _active,
    _dial,
    _new_participant,
    _reuse,
    get_conference,
    record_api_event,
    write_transaction,
)
from conference.service.conferences import remove_participant
from conference.service.errors import Conflict, NotFound
from conference.service.validation import BROWSER_PREFIX as PREFIX
from conference.twilio.stream_params import stream_token
from models import Conference, Participant, Tenant


def browser_label(user_id: int) -> str:
    """The participant label of console user `user_id`'s browser leg (one per conference)."""
    return f"{PREFIX}{user_id}"


def dial_address(conf: Conference, label: str, user_id: int) -> str:
    """`app:<TwiML App>?leg=supervisor&…`, with a token naming the conference, label and user."""
    params = {"leg": "supervisor", "conference": conf.name, "tenant": conf.tenant_id,
              "label": label, "token": stream_token(conf, "supervisor", label, user=user_id)}
    return f"app:{current_app.config['TWILIO_TWIML_APP_SID']}?{urlencode(params)}"


def add_browser_supervisor(tenant: Tenant | int, conference_name: str,
                           user_id: int) -> Participant:
    """Dial user `user_id`'s browser into the conference, muted (listen)."""
    label = browser_label(user_id)
    with write_transaction("duplicate_label") as session:
        conf = _active(get_conference(tenant, conference_name, session, lock=True))
        existing = next((p for p in conf.participants if p.label == label), None)
        if existing is not None and existing.is_present:
            raise Conflict("you are already supervising this conference from another page",
                           code="already_supervising")
        fields = dict(role="supervisor", mode="listen", muted=True, coaching=False,
                      coach_label=None, to=f"app:{current_app.config['TWILIO_TWIML_APP_SID']}")
        p = _reuse(existing, **fields) if existing else _new_participant(conf, label=label,
                                                                         **fields)
        session.flush()
        _dial(conf, p, beep=False, address=dial_address(conf, label, user_id))
        record_api_event(session, conf, "browser-supervisor-added", label=label, user=user_id)
    orphans.adopt(p.conference_id, [p.call_sid])
    return p


def remove_browser_supervisor(tenant: Tenant | int, conference_name: str,
                              user_id: int) -> Participant | None:
    """Take user `user_id`'s browser leg out (its page closed); None if there is none."""
    try:
        return remove_participant(tenant, conference_name, browser_label(user_id),
                                  role="supervisor")
    except NotFound:
        return None
