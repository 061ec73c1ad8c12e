"""In-memory resources of the simulated account (Applications, Calls, Streams, Conferences)."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime

API = "/2010-04-01/Accounts/{account}"


def new_sid(prefix: str) -> str:
    """A Twilio-shaped SID: two-letter prefix + 32 hex digits."""
    return prefix + uuid.uuid4().hex


def rfc2822(when: datetime | None = None) -> str:
    """Twilio's REST date format, e.g. 'Thu, 30 Jul 2015 20:00:00 +0000'."""
    return format_datetime(when or datetime.now(UTC)).replace("-0000", "+0000")


@dataclass
class Application:
    account_sid: str
    friendly_name: str | None = None
    voice_url: str | None = None
    voice_method: str = "POST"
    status_callback: str | None = None
    status_callback_method: str = "POST"
    sid: str = field(default_factory=lambda: new_sid("AP"))
    date_created: str = field(default_factory=rfc2822)
    date_updated: str = field(default_factory=rfc2822)


@dataclass
class Stream:
    call_sid: str
    account_sid: str
    url: str
    name: str | None = None
    track: str = "inbound_track"
    parameters: dict = field(default_factory=dict)
    status_callback: str | None = None
    status_callback_method: str = "POST"
    bidirectional: bool = False
    status: str = "in-progress"
    sid: str = field(default_factory=lambda: new_sid("MZ"))
    date_updated: str = field(default_factory=rfc2822)
    client: object = None  # the media_client shell, attached by the engine
    error: str | None = None  # why it could not connect or was lost (GET /sim/calls)


@dataclass
class Call:
    account_sid: str
    to: str
    from_: str
    direction: str = "outbound-api"
    parent_call_sid: str | None = None
    url: str | None = None
    method: str = "POST"
    twiml: str | None = None
    application_sid: str | None = None
    status_callback: str | None = None
    status_callback_method: str = "POST"
    status_callback_events: list = field(default_factory=lambda: ["completed"])
    custom_params: dict = field(default_factory=dict)
    status: str = "queued"
    start_time: str | None = None
    end_time: str | None = None
    started_at: float | None = None
    duration: str | None = None
    sid: str = field(default_factory=lambda: new_sid("CA"))
    date_created: str = field(default_factory=rfc2822)
    date_updated: str = field(default_factory=rfc2822)
    streams: list = field(default_factory=list)
    callback_seq: int = 0
    runtime: object = None  # the interpreter's CallRuntime
    fail_streams: list = field(default_factory=list)  # fault: codes the next streams fail with

    @property
    def live(self) -> bool:
        """True until the call reaches a final status."""
        return self.status in ("queued", "ringing", "in-progress")


@dataclass
class Participant:
    call_sid: str
    conference_sid: str
    account_sid: str
    label: str | None = None
    muted: bool = False
    hold: bool = False
    coaching: bool = False
    call_sid_to_coach: str | None = None
    start_conference_on_enter: bool = True
    end_conference_on_exit: bool = False
    beep: str = "true"
    wait_url: str | None = None  # None: Twilio's default hold music; "": silence
    hold_url: str | None = None  # the same, while on hold
    status: str = "queued"
    date_created: str = field(default_factory=rfc2822)
    date_updated: str = field(default_factory=rfc2822)


@dataclass
class Conference:
    account_sid: str
    friendly_name: str
    status: str = "init"
    region: str = "us1"
    reason_conference_ended: str | None = None
    call_sid_ending_conference: str | None = None
    status_callback: str | None = None
    status_callback_method: str = "POST"
    status_callback_events: list = field(default_factory=list)
    sid: str = field(default_factory=lambda: new_sid("CF"))
    date_created: str = field(default_factory=rfc2822)
    date_updated: str = field(default_factory=rfc2822)
    participants: dict = field(default_factory=dict)  # call_sid -> Participant, insertion-ordered
    callback_seq: int = 0
    configured: bool = False  # callback settings are taken from the first participant only


class Store:
    """All resources of one simulated account, keyed by SID."""

    def __init__(self, account_sid: str):
        self.account_sid = account_sid
        self.applications: dict[str, Application] = {}
        self.calls: dict[str, Call] = {}
        self.conferences: dict[str, Conference] = {}

    def add(self, resource):
        """Register a new Application, Call or Conference and return it."""
        table = {Application: self.applications, Call: self.calls, Conference: self.conferences}
        table[type(resource)][resource.sid] = resource
        return resource

    def active_conference(self, name_or_sid: str) -> Conference | None:
        """The live conference with this SID or friendly name."""
        conf = self.conferences.get(name_or_sid)
        if conf is not None:
            return conf if conf.status != "completed" else None
        for conf in self.conferences.values():
            if conf.friendly_name == name_or_sid and conf.status != "completed":
                return conf
        return None

    def find_participant(self, conf: Conference, key: str) -> Participant | None:
        """A participant by CallSid or by label."""
        if key in conf.participants:
            return conf.participants[key]
        return next((p for p in conf.participants.values() if p.label == key), None)

    def find_stream(self, call: Call, key: str) -> Stream | None:
        """A stream of a call by SID or name, newest first."""
        for stream in reversed(call.streams):
            if key in (stream.sid, stream.name):
                return stream
        return None

    def base(self) -> str:
        """The account's REST path prefix."""
        return API.format(account=self.account_sid)
