"""What each AI tool does to a live conference, through the orchestrator's service layer.

Each action takes (app, call_context, checked arguments) inside an app context and returns the
output for the model: {"ok": True, ...} or {"ok": False, "error": ...}. Mode changes the model
must speak through (whisper briefings) are undone once that speech has played, because the
model only speaks after it gets the tool output.
"""
from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from conference import service
from conference.logs import get_logger
from conference.media import facade
from conference.security.outbound import OutboundRefused, post_signed_json
from conference.security.proxy import is_dev
from conference.service import tool_secrets
from models import Conference, Participant, get_session
from models.times import utcnow

log = get_logger("tools")
HUMAN_AGENT_LABEL = "human-agent"
POLL_S = 0.1
SPEECH_MAX_S = 60.0  # never stay in whisper mode longer than this waiting for playout
SECONDS_PER_WORD = 0.4  # spoken pace used to guess when a briefing is over


def end_call(app: Any, ctx: dict, args: dict) -> dict:
    """End the conference if only customers remain with the AI, else take the AI out."""
    grace = float(ctx.get("end_grace_s", 2.0))
    if grace > 0:
        time.sleep(grace)  # let the goodbye in the playout buffer reach the caller
    conf = service.get_conference(ctx["tenant_id"], ctx["conference"])
    staff = [p for p in conf.participants
             if p.is_present and p.role in ("agent", "supervisor")]
    if staff:
        service.remove_ai(ctx["tenant_id"], ctx["conference"])
        return {"ok": True, "ended": "ai"}
    service.end_conference(ctx["tenant_id"], ctx["conference"])
    return {"ok": True, "ended": "conference"}


def transfer_to_human(app: Any, ctx: dict, args: dict) -> dict:
    """Warm transfer: dial the human agent, wait for them, whisper a briefing, then listen."""
    number = ctx.get("transfer_to") or app.config.get("AGENT_TRANSFER_NUMBER")
    if not number:
        return {"ok": False, "error": "no human agent is configured for transfers"}
    tenant, name = ctx["tenant_id"], ctx["conference"]
    service.add_participant(tenant, name, number, "agent", HUMAN_AGENT_LABEL)
    if not _wait_joined(tenant, name, HUMAN_AGENT_LABEL, float(ctx.get("join_timeout_s", 30))):
        service.remove_participant(tenant, name, HUMAN_AGENT_LABEL)
        return {"ok": False, "error": "no human agent answered; apologise and keep helping"}
    service.set_ai_mode(tenant, name, "whisper", coach_label=HUMAN_AGENT_LABEL)
    briefing = f"Transfer from the AI assistant: {args['reason']}"
    _after_speech(app, ctx, _speech_s(briefing) + 2.0, service.set_ai_mode, tenant, name,
                  "listen")
    return {"ok": True, "agent": HUMAN_AGENT_LABEL,
            "instructions": "Only the human agent hears you now. Brief them in one or two "
                            f"sentences: {briefing}. Then stay silent; they take over."}


def whisper_to_agent(app: Any, ctx: dict, args: dict) -> dict:
    """Switch the AI to whisper to the coached agent, then back to its mode after the words."""
    tenant, name = ctx["tenant_id"], ctx["conference"]
    conf = service.get_conference(tenant, name)
    coach = ctx.get("coach") or next(
        (p.label for p in conf.participants if p.is_present and p.role == "agent"), None)
    if coach is None:
        return {"ok": False, "error": "there is no agent on the call to whisper to"}
    ai = conf.live_ai
    previous = (ai.mode if ai is not None else None) or "speak"
    if previous != "whisper":
        service.set_ai_mode(tenant, name, "whisper", coach_label=coach)
        _after_speech(app, ctx, _speech_s(args["text"]) + 1.0, service.set_ai_mode, tenant,
                      name, previous)
    return {"ok": True, "coached": coach,
            "instructions": f"Only {coach} hears you now. Say exactly: {args['text']}"}


def lookup(app: Any, ctx: dict, args: dict) -> dict:
    """POST the query to the tenant's webhook (signed with its own key) and relay its JSON."""
    url = ctx.get("lookup_url") or app.config.get("AGENT_LOOKUP_URL")
    if not url:
        return {"ok": False, "error": "no lookup service is configured"}
    keys = tool_secrets.signing_secrets(ctx["tenant_id"], app.config, utcnow())
    get_session().rollback()  # end the read: the tool call may wait seconds on the webhook
    if not keys:
        return {"ok": False, "error": "no tool signing secret is issued for this tenant"}
    payload = {"tenant": ctx["tenant_id"], "conference": ctx["conference"],
               "query": args["query"]}
    try:
        answer = post_signed_json(url, payload, keys, float(ctx.get("lookup_timeout_s", 3)),
                                  allow_http_loopback=is_dev(app.config))
    except OutboundRefused as exc:
        log.warning("lookup webhook refused: %s", exc, extra={"event": "tool"})
        return {"ok": False, "error": "the lookup service answer was refused"}
    except (urllib.error.URLError, TimeoutError, ValueError, OSError) as exc:
        log.warning("lookup webhook failed: %s", type(exc).__name__, extra={"event": "tool"})
        return {"ok": False, "error": "the lookup service did not answer"}
    return {"ok": True, "result": answer}


ACTIONS = {"end_call": end_call, "transfer_to_human": transfer_to_human,
           "whisper_to_agent": whisper_to_agent, "lookup": lookup}


def _speech_s(text: str) -> float:
    return len(text.split()) * SECONDS_PER_WORD


def _wait_joined(tenant_id: int, name: str, label: str, timeout: float) -> bool:
    """Poll the participant row (callbacks update it) until it joined, left, or time is up."""
    deadline = time.monotonic() + timeout
    session = get_session()
    while True:
        status = session.scalar(
            sa.select(Participant.status).join(Conference)
            .where(Conference.tenant_id == tenant_id, Conference.name == name,
                   Participant.label == label))
        session.rollback()  # end the read so the next poll sees callbacks committed meanwhile
        if status == "joined":
            return True
        if status in ("left", "failed") or time.monotonic() >= deadline:
            return False
        time.sleep(POLL_S)


def _after_speech(app: Any, ctx: dict, estimate_s: float, fn, *args) -> threading.Thread:
    """Run `fn(*args)` once the AI has said what the tool output asked for.

    When the AI call is live on this worker (the media plane knows whether it is audible) that
    is: the AI started speaking, then its audio finished playing, so a whisper never leaks to
    the caller by reverting early. Elsewhere, a generous guess from the word count
    (`briefing_s` overrides it).
    """
    call_sid = ctx.get("ai_call_sid")
    delay = float(ctx.get("briefing_s", estimate_s * 1.5))

    def speaking() -> bool | None:
        return facade.ai_speaking(app, call_sid)

    def run() -> None:
        try:
            if speaking() is None:
                time.sleep(delay)
            else:
                _wait_speaking(speaking, True, float(ctx.get("speech_start_timeout_s", 10)))
                _wait_speaking(speaking, False, SPEECH_MAX_S)
            with app.app_context():
                fn(*args)
        except Exception:
            log.warning("deferred tool step failed", exc_info=True, extra={"event": "tool"})

    thread = threading.Thread(target=run, daemon=True, name="tool-after-speech")
    thread.start()
    return thread


def _wait_speaking(speaking: Callable[[], bool | None], wanted: bool, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while speaking() is not wanted and time.monotonic() < deadline:
        time.sleep(POLL_S)
