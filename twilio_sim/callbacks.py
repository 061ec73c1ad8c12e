"""Status callbacks: sans-I/O parameter builders and sequencers, plus a signed async sender."""
from __future__ import annotations

import logging
from datetime import UTC, datetime
from urllib.parse import urlencode

from .store import Call, Conference, Participant, Stream, rfc2822

log = logging.getLogger("twilio_sim.callbacks")

# StatusCallbackEvent value -> the subscription keyword that enables it.
CONFERENCE_EVENTS = {
    "conference-start": "start", "conference-end": "end",
    "participant-join": "join", "participant-leave": "leave",
    "participant-mute": "mute", "participant-unmute": "mute",
    "participant-hold": "hold", "participant-unhold": "hold",
    "participant-modify": "modify",
    "participant-speech-start": "speaker", "participant-speech-stop": "speaker",
}
CALL_EVENTS = {"initiated": "initiated", "ringing": "ringing", "in-progress": "answered",
               "completed": "completed", "busy": "completed", "failed": "completed",
               "no-answer": "completed", "canceled": "completed"}


def _tf(value: bool) -> str:
    return "true" if value else "false"


def conference_event(conf: Conference, event: str, when: datetime,
                     part: Participant | None = None, **extra) -> dict | None:
    """Params of one conference callback, or None if the conference did not subscribe to it."""
    if not conf.status_callback or CONFERENCE_EVENTS[event] not in conf.status_callback_events:
        return None
    conf.callback_seq += 1
    params = {"ConferenceSid": conf.sid, "FriendlyName": conf.friendly_name,
              "AccountSid": conf.account_sid, "SequenceNumber": str(conf.callback_seq),
              "Timestamp": rfc2822(when), "StatusCallbackEvent": event}
    if part is not None:
        params.update({"CallSid": part.call_sid, "Muted": _tf(part.muted), "Hold": _tf(part.hold),
                       "Coaching": _tf(part.coaching),
                       "EndConferenceOnExit": _tf(part.end_conference_on_exit),
                       "StartConferenceOnEnter": _tf(part.start_conference_on_enter)})
        if part.label:  # only documented fields (no CallSidToCoach): twiml/conference
            params["ParticipantLabel"] = part.label
    params.update({k: v for k, v in extra.items() if v is not None})
    return params


def voice_params(call: Call, account_sid: str) -> dict:
    """Twilio's standard voice request parameters for a TwiML fetch."""
    params = {"AccountSid": account_sid, "CallSid": call.sid, "From": call.from_, "To": call.to,
              "Caller": call.from_, "Called": call.to, "CallStatus": call.status,
              "Direction": call.direction, "ApiVersion": "2010-04-01"}
    if call.parent_call_sid:
        params["ParentCallSid"] = call.parent_call_sid
    if call.application_sid:
        params["ApplicationSid"] = call.application_sid
    params.update(call.custom_params)
    return params


def call_event(call: Call, account_sid: str, when: datetime,
               duration_s: float | None = None) -> dict | None:
    """Params of a call progress callback for the call's current status, or None if unwanted."""
    if not call.status_callback or CALL_EVENTS.get(call.status) not in call.status_callback_events:
        return None
    params = voice_params(call, account_sid)
    params.update({"Timestamp": rfc2822(when), "CallbackSource": "call-progress-events",
                   "SequenceNumber": str(call.callback_seq)})
    call.callback_seq += 1
    if duration_s is not None:
        params["CallDuration"] = str(round(duration_s))
        params["Duration"] = str(int(duration_s + 59) // 60)
    return params


def initiated_event(call: Call, account_sid: str, when: datetime) -> dict | None:
    """Params of the 'initiated' call progress callback, or None if unwanted."""
    if not call.status_callback or "initiated" not in call.status_callback_events:
        return None
    params = voice_params(call, account_sid)
    params.update({"CallStatus": "initiated", "Timestamp": rfc2822(when),
                   "CallbackSource": "call-progress-events",
                   "SequenceNumber": str(call.callback_seq)})
    call.callback_seq += 1
    return params


def stream_event(stream: Stream, event: str, when: datetime, error: str | None = None) -> dict:
    """Params of a stream status callback (Timestamp in ISO 8601, unlike the others)."""
    params = {"AccountSid": stream.account_sid, "CallSid": stream.call_sid,
              "StreamSid": stream.sid, "StreamName": stream.name or stream.sid,
              "StreamEvent": event, "Timestamp": when.astimezone(UTC).isoformat()}
    if error:
        params["StreamError"] = error
    return params


def signed_request(url: str, method: str, params: dict, auth_token: str) -> dict:
    """kwargs for requests.request: the form (or query) plus X-Twilio-Signature."""
    from twilio.request_validator import RequestValidator

    validator = RequestValidator(auth_token)
    if method.upper() == "GET":
        full = url + ("&" if "?" in url else "?") + urlencode(params) if params else url
        return {"method": "GET", "url": full,
                "headers": {"X-Twilio-Signature": validator.compute_signature(full, {})}}
    return {"method": "POST", "url": url, "data": params,
            "headers": {"X-Twilio-Signature": validator.compute_signature(url, params),
                        "Content-Type": "application/x-www-form-urlencoded"}}


class Sender:
    """Fire-and-forget signed callbacks, each in its own greenlet; keeps a log for /sim.

    Spawning never blocks (the tick loop emits speech events); a semaphore caps how many
    requests are in flight at once.
    """

    def __init__(self, auth_token: str, max_in_flight: int = 64, timeout_s: float = 5.0):
        from gevent.lock import BoundedSemaphore
        from gevent.pool import Group

        self.auth_token = auth_token
        self.timeout_s = timeout_s
        self.pool = Group()
        self.in_flight = BoundedSemaphore(max_in_flight)
        self.sent: list[dict] = []
        self.failed = 0

    def post(self, url: str | None, method: str, params: dict | None) -> None:
        """Queue a callback; None params or URL means 'not subscribed'."""
        if not url or params is None:
            return
        self.sent.append({"url": url, "params": params})
        del self.sent[:-1000]
        self.pool.spawn(self._deliver, url, method, params)

    def _deliver(self, url: str, method: str, params: dict) -> None:
        import requests

        with self.in_flight:
            try:
                requests.request(timeout=self.timeout_s,
                                 **signed_request(url, method, params, self.auth_token))
            except requests.RequestException as exc:
                self.failed += 1
                if self.failed % 200 == 1:  # an unreachable app would flood the log
                    log.warning("callback to %s failed: %s (%d failed)", url.split("?")[0],
                                type(exc).__name__, self.failed)
