"""HTTP routes Twilio calls: voice webhooks answer TwiML, status callbacks update state.

All are signed (X-Twilio-Signature). Bad parameters get 400 with the reason; nothing
reaches Twilio as a 500.
"""
from __future__ import annotations

import sqlalchemy.exc as sa_exc
from flask import Blueprint, Flask, current_app, request
from werkzeug.exceptions import HTTPException

from conference.ai import prewarm
from conference.logs import get_logger
from conference.service import callbacks
from conference.service.callbacks import CA_RE, BadWebhook
from conference.twilio import urls
from conference.twilio.security import twilio_signed
from conference.twilio.stream_params import fork_parameters, fork_stream_name
from conference.twilio.twiml import CONFERENCE_EVENTS, error_twiml, hangup_twiml, render_twiml
from conference.webhooks import ai_stream, inbound, supervisor_voice
from models import transaction

bp = Blueprint("twilio_webhooks", __name__, url_prefix="/twilio")
log = get_logger("webhooks")
ADMIT_ATTEMPTS = 5


def _call_sid() -> str:
    value = request.form.get("CallSid")
    if not value:
        raise BadWebhook("missing parameter CallSid")
    if not CA_RE.match(value):
        raise BadWebhook("invalid parameter CallSid")
    return value


@bp.post("/voice")
@twilio_signed
def voice():
    """An inbound call: fork the caller's leg, then put it in the conference its routing picks."""
    call_sid = _call_sid()
    for attempt in range(ADMIT_ATTEMPTS):
        try:
            with transaction() as session:
                conf, p = inbound.admit_caller(session, call_sid, request.values)
                context = {
                    "stream_name": fork_stream_name(p), "fork_url": urls.fork_url(),
                    "stream_events_url": urls.stream_events_url(),
                    "parameters": fork_parameters(conf, p) | {"stream": fork_stream_name(p)},
                    "label": p.label, "beep": True,
                    "conference_events_url": urls.conference_events_url(),
                    "conference_events": CONFERENCE_EVENTS, "conference_name": conf.twilio_name,
                }
            break
        except sa_exc.IntegrityError:  # a concurrent caller took the same room or label first
            if attempt == ADMIT_ATTEMPTS - 1:
                raise
        except inbound.Unroutable as exc:
            log.info("unroutable call: %s", exc, extra={"call_sid": call_sid})
            return error_twiml(str(exc))
    log.info("caller admitted", extra={"conference": conf.name, "call_sid": call_sid})
    return render_twiml("join_conference.xml", **context)


@bp.post("/ai/voice")
@twilio_signed
def ai_voice():
    """The TwiML App's Voice URL: connect the AI leg to the bidirectional AI stream (or a
    browser supervisor's leg to its own stream)."""
    call_sid = _call_sid()
    if request.values.get("leg") == "supervisor":
        return _supervisor_voice(call_sid)
    with transaction() as session:
        conf, ai = inbound.resolve_ai_leg(session, request.values)
        if not conf.is_active:
            return hangup_twiml()
        if ai is not None and ai.call_sid is None:
            ai.call_sid = call_sid
        prior = ai_stream.verified_continues(session, conf, request.values, call_sid)
        context = ai_stream.stream_context(conf, ai, request.values, 1, call_sid, prior)
        agent = context["parameters"]["agent"]
        # Keyed by this CallSid: the AI stream's start message carries the same callSid.
        prewarm.maybe_start(current_app._get_current_object(), call_sid, conf.tenant_id, agent)
    log.info("ai leg connected", extra={"conference": conf.name, "call_sid": call_sid})
    return render_twiml("ai_stream.xml", **context)


def _supervisor_voice(call_sid: str):
    with transaction() as session:
        context = supervisor_voice.stream_context(session, request.values, call_sid)
    if context is None:
        return hangup_twiml()
    log.info("browser supervisor leg connected", extra={"call_sid": call_sid})
    return render_twiml("supervisor_stream.xml", **context)


@bp.post("/ai/connect-action")
@twilio_signed
def ai_connect_action():
    """The AI's <Connect> ended: a new stream while it belongs in the conference, else hang up."""
    call_sid = _call_sid()
    n = ai_stream.stream_number(request.args)
    with transaction() as session:
        context = ai_stream.after_connect(session, call_sid, n, request.form)
    if context is None:
        log.info("ai connect ended; hanging up", extra={"call_sid": call_sid})
        return hangup_twiml()
    log.info("ai stream reconnecting", extra={"call_sid": call_sid})
    return render_twiml("ai_stream.xml", **context)


def _status_callback(handler):
    with transaction() as session:
        outcome = handler(session, request.form)
    log.info("callback %s", outcome, extra={
        "event": request.form.get("StatusCallbackEvent") or request.form.get("CallStatus")
        or request.form.get("StreamEvent"),
        "call_sid": request.form.get("CallSid"), "stream_sid": request.form.get("StreamSid"),
        "conference": request.form.get("FriendlyName"),
    })
    return "", 204


@bp.post("/conference-events")
@twilio_signed
def conference_events():
    """Conference status callbacks (start, end, join, leave, mute, hold, modify)."""
    return _status_callback(callbacks.handle_conference_event)


@bp.post("/call-events")
@twilio_signed
def call_events():
    """Call progress callbacks of the legs we dial."""
    return _status_callback(callbacks.handle_call_event)


@bp.post("/stream-events")
@twilio_signed
def stream_events():
    """Stream status callbacks (stream-started, stream-stopped, stream-error)."""
    return _status_callback(callbacks.handle_stream_event)


@bp.errorhandler(BadWebhook)
def bad_webhook(exc: BadWebhook):
    """400 with the reason, as plain text; on the AI leg, <Hangup/> (reason in the log).

    Twilio answers a failed TwiML fetch by playing its error message to the far end
    (https://www.twilio.com/blog/a-hidden-gem-fallback-urls-html); the AI leg's far end is
    the conference, so a 400 there would be heard by the customer.
    """
    log.warning("bad webhook: %s", exc, extra={"call_sid": request.form.get("CallSid")})
    if request.path.startswith("/twilio/ai/"):
        return hangup_twiml()
    return f"Bad Request: {exc}\n", 400, {"Content-Type": "text/plain"}


@bp.errorhandler(Exception)
def unexpected(exc: Exception):
    """Never a 500 to Twilio: callers hear an apology, callbacks are logged and acknowledged."""
    if isinstance(exc, HTTPException):
        return exc
    log.exception("webhook failed", extra={"call_sid": request.form.get("CallSid")})
    if request.path.startswith("/twilio/ai/"):
        return hangup_twiml()  # AI leg: whatever it says, the whole conference hears
    if request.path.endswith("/voice"):
        return error_twiml("Sorry, something went wrong. Please call again later.")
    return "", 204


def init_app(app: Flask) -> None:
    """Register the webhook routes."""
    app.register_blueprint(bp)
