"""TwilioGateway: the only importer of twilio.rest; maps Twilio refusals to GatewayError."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import requests
from flask import Flask, current_app
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from conference.logs import get_logger

log = get_logger("twilio")
T = TypeVar("T")

CONFERENCE_EVENTS = ("start", "end", "join", "leave", "mute", "hold", "modify")
CALL_EVENTS = ("initiated", "ringing", "answered", "completed")


class GatewayError(Exception):
    """Twilio refused a request (or could not be reached); carries Twilio's code and message."""

    def __init__(self, code: int | None, message: str, status: int | None = None) -> None:
        super().__init__(f"Twilio error {code}: {message}")
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True)
class ParticipantInfo:
    """What Twilio says about a participant it created or updated."""

    call_sid: str
    conference_sid: str
    label: str | None
    status: str | None


@dataclass(frozen=True)
class StreamInfo:
    """What Twilio says about a stream it created or stopped."""

    sid: str
    call_sid: str
    name: str | None
    status: str | None


def _strip_prefix(msg: str) -> str:
    # twilio-python prepends "Unable to <verb> record: "; keep only Twilio's own message.
    head, sep, rest = msg.partition("record: ")
    return rest if sep and head.startswith("Unable to") else msg


def _call(action: str, fn: Callable[[], T]) -> T:
    try:
        return fn()
    except TwilioRestException as exc:
        log.warning("twilio refused %s: %s %s", action, exc.code, _strip_prefix(exc.msg))
        raise GatewayError(exc.code, _strip_prefix(exc.msg), exc.status) from exc
    except requests.RequestException as exc:
        log.warning("twilio unreachable for %s: %s", action, type(exc).__name__)
        raise GatewayError(None, f"Twilio unreachable: {type(exc).__name__}", None) from exc


class TwilioGateway:
    """Thin wrapper over the REST client for Participants, Conferences, Calls and Streams."""

    def __init__(self, account_sid: str, auth_token: str, api_url: str, timeout_s: float = 10.0):
        # environment={} keeps TWILIO_REGION/TWILIO_EDGE from rewriting the host; only app.py
        # reads the environment.
        self.client = Client(
            account_sid, auth_token, http_client=TwilioHttpClient(timeout=timeout_s), environment={}
        )
        self.client.region = None
        self.client.edge = None
        self.client.api.base_url = api_url.rstrip("/")

    @classmethod
    def from_config(cls, config: Mapping) -> TwilioGateway:
        """Build from TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_API_URL."""
        return cls(
            config["TWILIO_ACCOUNT_SID"], config["TWILIO_AUTH_TOKEN"], config["TWILIO_API_URL"]
        )

    def add_participant(
        self,
        conference_name: str,
        *,
        to: str,
        from_: str,
        label: str,
        muted: bool = False,
        coaching: bool = False,
        call_sid_to_coach: str | None = None,
        beep: bool = True,
        status_callback: str | None = None,
        conference_status_callback: str | None = None,
        jitter_buffer_size: str | None = None,
        end_conference_on_exit: bool = False,
        wait_url: str | None = None,
    ) -> ParticipantInfo:
        """Dial `to` into the conference (created by name if needed) with status callbacks."""
        kwargs: dict = {
            "from_": from_,
            "to": to,
            "label": label,
            "muted": muted,
            "beep": "true" if beep else "false",
            "early_media": True,
            "end_conference_on_exit": end_conference_on_exit,
        }
        if coaching:
            kwargs.update(coaching=True, call_sid_to_coach=call_sid_to_coach)
        if status_callback:
            kwargs.update(status_callback=status_callback, status_callback_event=list(CALL_EVENTS))
        if conference_status_callback:
            kwargs.update(
                conference_status_callback=conference_status_callback,
                conference_status_callback_event=list(CONFERENCE_EVENTS),
            )
        if jitter_buffer_size:
            kwargs["jitter_buffer_size"] = jitter_buffer_size
        if wait_url is not None:
            # "" = silence while the conference has not started; unset = Twilio's hold music
            # (https://www.twilio.com/docs/voice/api/conference-participant-resource, WaitUrl).
            kwargs["wait_url"] = wait_url
        participants = self.client.conferences(conference_name).participants
        p = _call("add_participant", lambda: participants.create(**kwargs))
        return ParticipantInfo(p.call_sid, p.conference_sid, p.label, p.status)

    def update_participant(
        self,
        conference_sid: str,
        participant: str,
        *,
        muted: bool | None = None,
        hold: bool | None = None,
        coaching: bool | None = None,
        call_sid_to_coach: str | None = None,
    ) -> ParticipantInfo:
        """Change mute/hold/coaching of a participant (by CallSid or label)."""
        kwargs = {
            k: v
            for k, v in {
                "muted": muted,
                "hold": hold,
                "coaching": coaching,
                "call_sid_to_coach": call_sid_to_coach,
            }.items()
            if v is not None
        }
        ctx = self.client.conferences(conference_sid).participants(participant)
        p = _call("update_participant", lambda: ctx.update(**kwargs))
        return ParticipantInfo(p.call_sid, p.conference_sid, p.label, p.status)

    def remove_participant(self, conference_sid: str, participant: str) -> None:
        """Kick a participant (by CallSid or label) out of the conference."""
        ctx = self.client.conferences(conference_sid).participants(participant)
        _call("remove_participant", ctx.delete)

    def end_conference(self, conference_sid: str) -> None:
        """Complete the conference, dropping everyone."""
        ctx = self.client.conferences(conference_sid)
        _call("end_conference", lambda: ctx.update(status="completed"))

    def start_stream(
        self,
        call_sid: str,
        *,
        url: str,
        name: str | None = None,
        track: str = "inbound_track",
        parameters: Mapping[str, str] | None = None,
        status_callback: str | None = None,
    ) -> StreamInfo:
        """Fork a live call to `url` (unidirectional) through the Streams resource."""
        kwargs: dict = {"url": url, "track": track}
        if name:
            kwargs["name"] = name
        if status_callback:
            kwargs.update(status_callback=status_callback, status_callback_method="POST")
        for i, (key, value) in enumerate((parameters or {}).items(), start=1):
            kwargs[f"parameter{i}_name"] = key
            kwargs[f"parameter{i}_value"] = value
        streams = self.client.calls(call_sid).streams
        s = _call("start_stream", lambda: streams.create(**kwargs))
        return StreamInfo(s.sid, s.call_sid, s.name, s.status)

    def stop_stream(self, call_sid: str, stream: str) -> StreamInfo:
        """Stop a stream by its MZ sid or name."""
        ctx = self.client.calls(call_sid).streams(stream)
        s = _call("stop_stream", lambda: ctx.update(status="stopped"))
        return StreamInfo(s.sid, s.call_sid, s.name, s.status)

    def update_call(self, call_sid: str, *, twiml: str | None = None,
                    url: str | None = None) -> None:
        """Redirect a live call to new TwiML (inline or by URL)."""
        if (twiml is None) == (url is None):
            raise ValueError("give exactly one of twiml= or url=")
        kwargs = {"twiml": twiml} if twiml is not None else {"url": url, "method": "POST"}
        ctx = self.client.calls(call_sid)
        _call("update_call", lambda: ctx.update(**kwargs))

    def hangup_call(self, call_sid: str) -> None:
        """End a call (Status=completed)."""
        ctx = self.client.calls(call_sid)
        _call("hangup_call", lambda: ctx.update(status="completed"))


def get_gateway() -> TwilioGateway:
    """The app's gateway (tests may put their own in app.extensions["twilio_gateway"])."""
    return current_app.extensions["twilio_gateway"]


def init_app(app: Flask) -> None:
    """Build the gateway from config unless one was injected already."""
    app.extensions.setdefault("twilio_gateway", TwilioGateway.from_config(app.config))
