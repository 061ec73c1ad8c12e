"""Use cases for the AI participant and supervisors (listen / whisper / barge)."""
from __future__ import annotations

from urllib.parse import urlencode

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import current_app

from conference.logs import get_logger
from conference.service import coaching, orphans
from conference.service.base import (
    AI_LABEL,
    _active,
    _coach_call_sid,
    _dial,
    _new_participant,
    _require,
    _reuse,
    find_participant,
    get_conference,
    record_api_event,
    write_transaction,
)
from conference.service.errors import Conflict, NotFound, TooManyAISessions, UpstreamError
from conference.service.validation import (
    AI_MODES,
    BROWSER_PREFIX,
    SUPERVISOR_MODES,
    check_agent,
    check_choice,
    check_to,
    mode_flags,
)
from conference.twilio.gateway import GatewayError, get_gateway
from conference.twilio.stream_params import stream_token
from models import Conference, Participant, Tenant, transaction

log = get_logger("service.roles")


def _check_coach(mode: str, coach_label: str | None,
                 conf: Conference | None = None) -> dict[str, str | None]:
    if mode != "whisper":
        return {}
    if not coach_label:
        return {"coach": "required when mode is whisper"}
    if conf is not None and coaching.coach_target(conf, coach_label) is None:
        return {"coach": "no such live participant"}
    return {}


def _flags(conf: Conference, mode: str, coach_label: str | None) -> dict:
    """Row fields of a mode; a whisper whose target has not joined is muted and pending."""
    muted, coaching_now = mode_flags(mode)
    flags = {"mode": mode, "muted": muted, "coaching": coaching_now,
             "coach_label": coach_label if mode == "whisper" else None}
    if mode == "whisper":
        flags.update(coaching.whisper_flags(conf, coach_label))
    return flags


def ai_dial_address(conf: Conference, agent: str, mode: str, coach_label: str | None,
                    continues: str | None = None) -> str:
    """`app:<TwiML App>?…`: the App's Voice URL learns the conference from these params.

    `continues` (a re-dial) names the AI call whose conversation the new call carries on.
    """
    params = {
        "conference": conf.name, "tenant": conf.tenant_id, "agent": agent, "mode": mode,
        "coach": coach_label or "", "token": stream_token(conf, "ai", AI_LABEL),
    }
    if continues:
        params["continues"] = continues
    query = urlencode(params)
    return f"app:{current_app.config['TWILIO_TWIML_APP_SID']}?{query}"


def _live_ai(conf: Conference) -> Participant | None:
    return conf.live_ai


def _enforce_ai_cap(session: so.Session, tenant_id: int) -> None:
    """Refuse when the tenant's live AI sessions, counting the one just flushed, exceed its cap.

    The tenant row lock serializes concurrent PUT /ai on PostgreSQL; on SQLite the flushed
    insert already holds the write lock, so the count sees every committed session.
    """
    tenant = session.get(Tenant, tenant_id, with_for_update=True)
    live = session.scalar(
        sa.select(sa.func.count(Participant.id))
        .join(Conference, Participant.conference_id == Conference.id)
        .where(Conference.tenant_id == tenant_id, Participant.role == "ai",
               Participant.status.not_in(("left", "failed")),
               Conference.status.in_(("pending", "in-progress")))
    )
    if live > tenant.max_ai_sessions:
        raise TooManyAISessions(
            f"tenant already runs {live - 1} AI session(s); the limit is "
            f"{tenant.max_ai_sessions}")


def _attach_ai(session: so.Session, conf: Conference, agent: str, mode: str,
               coach_label: str | None, continues: str | None = None) -> Participant:
    """Insert (or reuse) the AI row, check the cap, and dial it through the TwiML App."""
    _require(_check_coach(mode, coach_label, conf))
    fields = dict(role="ai", agent=agent, **_flags(conf, mode, coach_label),
                  to=f"app:{current_app.config['TWILIO_TWIML_APP_SID']}")  # never the token
    existing = next((p for p in conf.participants if p.label == AI_LABEL), None)
    session.get(Tenant, conf.tenant_id, with_for_update=True)  # lock before inserting (PG)
    p = _reuse(existing, **fields) if existing else _new_participant(conf, label=AI_LABEL,
                                                                     **fields)
    session.flush()
    _enforce_ai_cap(session, conf.tenant_id)
    _dial(conf, p, beep=False, jitter="small",
          address=ai_dial_address(conf, agent, mode, coach_label, continues))
    return p


def add_ai(tenant: Tenant | int, conference_name: str, agent: str, mode: str,
           coach_label: str | None = None) -> tuple[Participant, bool]:
    """Bring the AI in (True) or, if it is already there, switch its mode (False)."""
    _require({"agent": check_agent(agent), "mode": check_choice(mode, AI_MODES)})
    with write_transaction("duplicate_label") as session:
        conf = _active(get_conference(tenant, conference_name, session, lock=True))
        _require(_check_coach(mode, coach_label, conf))
        p = _live_ai(conf)
        switched = p is not None
        if switched:
            _apply_mode(conf, p, mode, coach_label)
            record_api_event(session, conf, "ai-mode", mode=mode, coach=coach_label)
        else:
            p = _attach_ai(session, conf, agent, mode, coach_label)
            record_api_event(session, conf, "ai-added", agent=agent, mode=mode,
                             coach=coach_label)
    if switched:
        _tell_live_ai(conf, mode)
        return p, False
    orphans.adopt(p.conference_id, [p.call_sid])
    return p, True


def set_ai_mode(tenant: Tenant | int, conference_name: str, mode: str,
                coach_label: str | None = None) -> Participant:
    """Switch the live AI between speak, whisper (coaching `coach_label`) and listen."""
    _require({"mode": check_choice(mode, AI_MODES)})
    with transaction() as session:
        conf = _active(get_conference(tenant, conference_name, session, lock=True))
        p = _live_ai(conf)
        if p is None:
            raise NotFound(f"no AI in conference {conference_name!r}")
        _require(_check_coach(mode, coach_label or p.coach_label, conf))
        _apply_mode(conf, p, mode, coach_label or p.coach_label)
        record_api_event(session, conf, "ai-mode", mode=mode, coach=p.coach_label)
    _tell_live_ai(conf, mode)
    return p


def _tell_live_ai(conf: Conference, mode: str) -> None:
    """After the commit, let the live bridge (here, or on another worker via the bus) follow."""
    from conference.media import facade

    try:
        facade.set_ai_mode(current_app._get_current_object(), conf.tenant_id, conf.name, mode)
    except Exception:  # Twilio's flags already changed; the bridge re-reads the mode at start
        log.warning("could not tell the live AI its new mode", exc_info=True,
                    extra={"conference": conf.name, "tenant": conf.tenant_id})


def remove_ai(tenant: Tenant | int, conference_name: str) -> Participant:
    """Take the AI out of the conference."""
    from conference.service.conferences import remove_participant

    return remove_participant(tenant, conference_name, AI_LABEL, role="ai")


def _apply_mode(conf: Conference, p: Participant, mode: str, coach_label: str | None) -> None:
    """Participant update at Twilio, then the same flags in the row."""
    flags = _flags(conf, mode, coach_label)
    coached = _coach_call_sid(conf, coach_label) if flags["coaching"] else None
    # A pending whisper is sent as muted without coaching; the join callback switches it.
    if p.call_sid and conf.twilio_sid:
        try:
            _update_flags(conf, p, flags, coached)
        except GatewayError as exc:
            if not (flags["coaching"] and exc.code in coaching.COACH_REFUSALS):
                raise UpstreamError(exc.code, exc.message) from exc
            # Twilio knows better than our callbacks so far (the target left, is on hold, or
            # the conference has not started): wait muted for the target's join instead.
            record_api_event(so.object_session(conf), conf, "coach-refused", label=p.label,
                             coach=coach_label, code=exc.code, reason=exc.message)
            flags.update(muted=True, coaching=False)
            try:
                _update_flags(conf, p, flags, None)
            except GatewayError as again:
                raise UpstreamError(again.code, again.message) from again
    for key, value in flags.items():
        setattr(p, key, value)


def _update_flags(conf: Conference, p: Participant, flags: dict, coached: str | None) -> None:
    get_gateway().update_participant(conf.twilio_sid, p.call_sid, muted=flags["muted"],
                                     coaching=flags["coaching"], call_sid_to_coach=coached)


def _next_supervisor_label(conf: Conference) -> str:
    taken = {p.label for p in conf.participants}
    n = 1
    while f"supervisor-{n}" in taken:
        n += 1
    return f"supervisor-{n}"


def add_supervisor(tenant: Tenant | int, conference_name: str, to: str, mode: str,
                   coach_label: str | None = None) -> Participant:
    """Dial a supervisor in: listen (muted), whisper (coaching `coach_label`) or barge."""
    _require({"to": check_to(to), "mode": check_choice(mode, SUPERVISOR_MODES)})
    with write_transaction("duplicate_label") as session:
        conf = _active(get_conference(tenant, conference_name, session, lock=True))
        _require(_check_coach(mode, coach_label, conf))
        p = _new_participant(conf, label=_next_supervisor_label(conf), role="supervisor", to=to,
                             **_flags(conf, mode, coach_label))
        session.flush()
        _dial(conf, p, beep=False)
        record_api_event(session, conf, "supervisor-added", label=p.label, mode=mode)
    orphans.adopt(p.conference_id, [p.call_sid])
    return p


def set_supervisor_mode(tenant: Tenant | int, conference_name: str, label: str, mode: str,
                        coach_label: str | None = None, from_browser: bool = False) -> Participant:
    """Switch a supervisor between listen, whisper and barge.

    A browser supervisor's leg is switched only from its own page (`from_browser`): its
    microphone follows the mode the page chose, and its indicator must say what it sends.
    """
    _require({"mode": check_choice(mode, SUPERVISOR_MODES)})
    if label.startswith(BROWSER_PREFIX) and not from_browser:
        raise Conflict(f"supervisor {label!r} is a browser; it switches from its own page",
                       code="browser_supervisor")
    with transaction() as session:
        conf = _active(get_conference(tenant, conference_name, session, lock=True))
        p = find_participant(conf, label, role="supervisor")
        if not p.is_present:
            raise Conflict(f"supervisor {label!r} has left", code="participant_left")
        _require(_check_coach(mode, coach_label or p.coach_label, conf))
        _apply_mode(conf, p, mode, coach_label or p.coach_label)
        record_api_event(session, conf, "supervisor-mode", label=label, mode=mode)
    return p
