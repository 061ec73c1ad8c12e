"""Conferences and Conferences/{ConferenceSid}/Participants endpoints."""
from __future__ import annotations

import re

from flask import jsonify, request

from ..rules import coach_problem, label_problem
from ..store import Call, Conference, Participant
from . import TwilioError, bp, check_url, form_bool, form_list, not_found, render, sim
from .calls import check_address

BEEPS = ("true", "false", "onEnter", "onExit")


def get_conference(sid: str, live: bool = False) -> Conference:
    """A conference by SID (live only if asked) or 20404."""
    conf = sim().store.conferences.get(sid)
    if conf is None or (live and conf.status == "completed"):
        raise not_found()
    return conf


def get_participant(conf: Conference, key: str) -> Participant:
    """A participant by CallSid or label, or 20404."""
    part = sim().store.find_participant(conf, key)
    if part is None:
        raise not_found()
    return part


@bp.get("/Conferences.json")
def list_conferences():
    """ListConference → 200 (filters: FriendlyName, Status)."""
    args = request.args
    confs = [c for c in sim().store.conferences.values()
             if args.get("FriendlyName") in (None, c.friendly_name)
             and args.get("Status") in (None, c.status)]
    items = [render.conference(sim().store, c) for c in reversed(confs)]
    return jsonify(render.page("conferences", request.path, items, args))


@bp.get("/Conferences/<sid>.json")
def fetch_conference(sid):
    """FetchConference → 200."""
    return jsonify(render.conference(sim().store, get_conference(sid)))


@bp.post("/Conferences/<sid>.json")
def update_conference(sid):
    """UpdateConference: Status=completed ends it (AnnounceUrl is accepted and ignored)."""
    conf = get_conference(sid, live=True)
    status = request.form.get("Status")
    if status not in (None, "completed"):
        raise TwilioError(400, 20001, f"Invalid Status: {status[:40]}")
    check_url("AnnounceUrl", request.form.get("AnnounceUrl"))
    if status == "completed":
        sim().end_conference(conf, "conference-ended-via-api")
    return jsonify(render.conference(sim().store, conf))


def check_coach(conf: Conference | None, target: str | None) -> None:
    """13240 / 16027 unless `target` can be coached now (rules.coach_problem)."""
    if conf is None:
        raise TwilioError(400, 13240, "CallSidToCoach is not a participant of this conference")
    problem = coach_problem(sim().room(conf), target, sim().strictness.strict("coach"))
    if problem is not None:
        raise TwilioError(400, *problem)


def check_label(conf: Conference | None, label: str | None) -> None:
    """Label rules (rules.label_problem); a duplicate over REST is 16026
    (https://www.twilio.com/docs/api/errors/16026; 16025 is the TwiML error)."""
    problem = label_problem(label, sim().strictness.strict("labels"))
    if problem is not None:
        raise TwilioError(400, 20001, problem)
    if conf is not None and label and sim().store.find_participant(conf, label):
        code = 16026 if sim().strictness.strict("labels") else 16025
        raise TwilioError(400, code, "Participant label already exists in the conference")


def wait_url(name: str) -> str | None:
    """WaitUrl/HoldUrl: a URL, or "" for silence (None: Twilio's default music)."""
    value = request.form.get(name)
    return value if value == "" else check_url(name, value)


def participant_options(conf: Conference | None) -> dict:
    """Participant flags from the create form."""
    beep = request.form.get("Beep", "true")
    if beep not in BEEPS:
        raise TwilioError(400, 20001, f"Invalid Beep: {beep[:20]}")
    coach_target = request.form.get("CallSidToCoach")
    # "defaults to false unless call_sid_to_coach is defined" (Participants create, Coaching)
    coaching = form_bool("Coaching", coach_target is not None)
    if coaching:
        check_coach(conf, coach_target)
    label = request.form.get("Label")
    check_label(conf, label)
    return {"label": label, "muted": form_bool("Muted", False),
            "hold": form_bool("Hold", False), "coaching": bool(coaching),
            "call_sid_to_coach": coach_target if coaching else None, "beep": beep,
            "start_conference_on_enter": form_bool("StartConferenceOnEnter", True),
            "end_conference_on_exit": form_bool("EndConferenceOnExit", False),
            "wait_url": wait_url("WaitUrl")}


def conference_settings() -> dict:
    """Conference-level callback settings (honoured from the first participant only)."""
    form = request.form
    return {"status_callback": check_url("ConferenceStatusCallback",
                                         form.get("ConferenceStatusCallback")),
            "status_callback_method": form.get("ConferenceStatusCallbackMethod", "POST").upper(),
            "status_callback_events": form_list("ConferenceStatusCallbackEvent")
            or ["start", "end"]}


@bp.post("/Conferences/<conf_key>/Participants.json")
def create_participant(conf_key):
    """CreateParticipant → 201: dial To into the conference (created by name if needed)."""
    store = sim().store
    conf = store.active_conference(conf_key)
    if conf is None and re.match(r"^CF[0-9a-fA-F]{32}$", conf_key):
        raise not_found()
    to = check_address(request.form.get("To"), 21201, "To", allow_app=True)
    from_ = check_address(request.form.get("From"), 21213, "From",
                          allow_username=to.startswith("sip:"))
    if to.startswith("app:") and to[4:38] not in store.applications:
        raise TwilioError(400, 21218, f"Invalid ApplicationSid: {to[4:38]}")
    options = participant_options(conf)
    call = Call(account_sid=sim().account_sid, to=to, from_=from_,
                status_callback=check_url("StatusCallback", request.form.get("StatusCallback")),
                status_callback_method=request.form.get("StatusCallbackMethod", "POST").upper(),
                status_callback_events=form_list("StatusCallbackEvent") or ["completed"])
    settings = conference_settings()
    if conf is None:
        conf = store.add(Conference(account_sid=sim().account_sid, friendly_name=conf_key))
    store.add(call)
    part = Participant(call_sid=call.sid, conference_sid=conf.sid, account_sid=conf.account_sid,
                       **options)
    sim().add_participant(conf, call, part, settings)
    return jsonify(render.participant(store, part, queue_time="0")), 201


@bp.get("/Conferences/<conf_sid>/Participants.json")
def list_participants(conf_sid):
    """ListParticipant → 200 (filters: Muted, Hold, Coaching)."""
    conf = get_conference(conf_sid)
    wanted = {k: request.args.get(k, "").lower() for k in ("Muted", "Hold", "Coaching")}
    parts = [p for p in conf.participants.values()
             if all(v in ("", str(getattr(p, k.lower())).lower()) for k, v in wanted.items())]
    items = [render.participant(sim().store, p) for p in parts]
    return jsonify(render.page("participants", request.path, items, request.args))


@bp.get("/Conferences/<conf_sid>/Participants/<key>.json")
def fetch_participant(conf_sid, key):
    """FetchParticipant → 200 (by CallSid or label)."""
    conf = get_conference(conf_sid)
    return jsonify(render.participant(sim().store, get_participant(conf, key)))


@bp.post("/Conferences/<conf_sid>/Participants/<key>.json")
def update_participant(conf_sid, key):
    """UpdateParticipant: Muted, Hold, Coaching/CallSidToCoach, EndConferenceOnExit, …."""
    conf = get_conference(conf_sid, live=True)
    part = get_participant(conf, key)
    changes = {name: form_bool(field) for name, field in
               (("muted", "Muted"), ("hold", "Hold"), ("coaching", "Coaching"),
                ("end_conference_on_exit", "EndConferenceOnExit"))}
    changes = {k: v for k, v in changes.items() if v is not None}
    target = request.form.get("CallSidToCoach")
    if target is not None:
        changes["call_sid_to_coach"] = target
    coaching = changes.get("coaching", part.coaching)
    if coaching and ("coaching" in changes or target is not None):
        check_coach(conf, changes.get("call_sid_to_coach", part.call_sid_to_coach))
    if changes.get("coaching") is False:
        changes["call_sid_to_coach"] = None
    beep_on_exit = form_bool("BeepOnExit")
    if beep_on_exit is not None:
        changes["beep"] = _beep_with_exit(part.beep, beep_on_exit)
    for name, key in (("HoldUrl", "hold_url"), ("WaitUrl", "wait_url")):
        if request.form.get(name) is not None:
            changes[key] = wait_url(name)
    check_url("AnnounceUrl", request.form.get("AnnounceUrl"))
    sim().update_participant(conf, part, changes)
    return jsonify(render.participant(sim().store, part))


def _beep_with_exit(beep: str, on_exit: bool) -> str:
    """The Beep value after BeepOnExit=true|false."""
    enter = beep in ("true", "onEnter")
    return {(True, True): "true", (True, False): "onEnter", (False, True): "onExit",
            (False, False): "false"}[(enter, on_exit)]


@bp.delete("/Conferences/<conf_sid>/Participants/<key>.json")
def delete_participant(conf_sid, key):
    """DeleteParticipant → 204 (kick, by CallSid or label)."""
    conf = get_conference(conf_sid, live=True)
    sim().kick_participant(conf, get_participant(conf, key))
    return "", 204
