"""The Simulator: owns the store, the 20 ms tick loop, call legs, rooms and callbacks."""
from __future__ import annotations

import logging
from datetime import UTC, datetime
from urllib.parse import parse_qsl

import gevent

from . import callbacks, fetch
from .callbacks import Sender
from .clock import Ticker
from .conference import Room, configure
from .engine_streams import StreamsMixin
from .interpreter import Leg, Redirect
from .parties import ConferenceParty, PhoneParty
from .phone import Phone, speech_or_tone
from .store import Call, Conference, Participant, Store, rfc2822
from .strictness import Strictness

log = logging.getLogger("twilio_sim.engine")


class Simulator(StreamsMixin):
    """One simulated Twilio account."""

    def __init__(self, account_sid: str, auth_token: str, clock, public_host: str = "",
                 strictness: Strictness | None = None):
        self.account_sid, self.auth_token, self.clock = account_sid, auth_token, clock
        self.strictness = strictness or Strictness()
        self.store = Store(account_sid)
        self.sender = Sender(auth_token)
        self.rooms: dict[str, Room] = {}
        self.legs: dict[str, Leg] = {}
        self.phones: dict[str, Phone] = {}
        self.ticks = 0
        self.tick_errors = 0
        self.ticker: Ticker | None = None
        self._loop = None
        self.answer_modes: dict[str, tuple[str, float]] = {}  # number -> (mode, ring seconds)
        self.closing: set = set()  # greenlets closing streams, joined on shutdown

    # ---- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        """Start the tick loop greenlet."""
        self.ticker = Ticker(self.clock)
        self._loop = gevent.spawn(self._run)

    def stop(self, grace_s: float = 3.0) -> None:
        """Hang up everything (apps get `stop`, callbacks go out), then stop ticking."""
        legs = list(self.legs.values())
        for leg in legs:
            self.hangup_call(leg.call, "completed")
        gevent.joinall([leg.greenlet for leg in legs if leg.greenlet], timeout=grace_s)
        gevent.joinall(list(self.closing), timeout=grace_s)
        self.sender.pool.join(timeout=grace_s)
        if self._loop is not None:
            self._loop.kill()

    def _run(self) -> None:
        for _ in self.ticker:
            self.tick()

    def tick(self) -> None:
        """One 20 ms step: every leg moves a frame, then every room mixes."""
        self.ticks += 1
        for leg in list(self.legs.values()):
            self._guarded(leg.tick, leg.call.sid)
        now = self.now()
        for sid, room in list(self.rooms.items()):
            self._guarded(room.tick, sid, now)
            if room.conf.status == "completed":
                del self.rooms[sid]

    def _guarded(self, step, sid: str, *args) -> None:
        # One broken leg or room must not stop the others; log 1 in 200 (frame-level rule).
        try:
            step(*args)
        except Exception:
            self.tick_errors += 1
            if self.tick_errors % 200 == 1:
                log.exception("tick failed for %s (%d tick errors)", sid, self.tick_errors)

    def now(self) -> datetime:
        """Simulated wall time for timestamps."""
        return datetime.fromtimestamp(self.clock.wall(), UTC)

    # ---- phones and fetching ------------------------------------------------------------------
    def phone(self, number: str) -> Phone:
        """The simulated phone answering `number` (made on first use)."""
        if number not in self.phones:
            self.phones[number] = Phone(number, self.clock.wall)
        return self.phones[number]

    def answer_mode(self, party) -> tuple[str, float]:
        """(answer | busy | no-answer | failed, ring seconds) for the phone a leg dials."""
        number = getattr(getattr(party, "phone", None), "number", None)
        return self.answer_modes.get(number, ("answer", 0.1))

    def fetch(self, url: str, method: str, params: dict) -> str:
        """A signed TwiML request (FetchError unless it answers 2xx)."""
        return fetch.twiml(url, method, params, self.auth_token)

    def fetch_audio(self, url: str) -> bytes:
        """<Play> audio as 8 kHz μ-law."""
        return fetch.audio(url)

    def speech(self, text: str) -> bytes:
        """<Say> audio (espeak-ng, or a tone without it)."""
        return speech_or_tone(text)

    # ---- calls --------------------------------------------------------------------------------
    def _launch(self, call: Call, party, first: Redirect | None) -> Leg:
        leg = Leg(self, call, party, first)
        call.runtime = leg
        self.legs[call.sid] = leg
        self.set_call_status(call, "queued", notify=False)
        self.sender.post(call.status_callback, call.status_callback_method,
                         callbacks.initiated_event(call, self.account_sid, self.now()))
        leg.greenlet = gevent.spawn(leg.run)
        return leg

    def place_call(self, call: Call) -> None:
        """Calls create: dial a simulated phone and run Url/Twiml/ApplicationSid TwiML on it."""
        first = Redirect(call.url, call.method, call.twiml)
        if call.twiml is None and call.url is None:
            app = self.store.applications[call.application_sid]
            first = Redirect(app.voice_url, app.voice_method)
            call.status_callback = app.status_callback
            call.status_callback_method = app.status_callback_method
        self._launch(call, PhoneParty(self.phone(call.to)), first)

    def inbound_call(self, from_: str, to: str, url: str, method: str = "POST") -> Call:
        """A simulated phone `from_` calls `to`, whose voice URL is `url`."""
        call = self.store.add(Call(account_sid=self.account_sid, to=to, from_=from_,
                                   direction="inbound", url=url, method=method))
        self._launch(call, PhoneParty(self.phone(from_)), Redirect(url, method))
        return call

    def set_call_status(self, call: Call, status: str, notify: bool = True) -> None:
        """Move a call to `status`, stamping times and sending its status callback."""
        call.status = status
        call.date_updated = rfc2822(self.now())
        if status == "in-progress":
            call.start_time, call.started_at = rfc2822(self.now()), self.clock.now()
        duration = None
        if not call.live:
            call.end_time = rfc2822(self.now())
            duration = self.clock.now() - call.started_at if call.started_at else 0.0
            call.duration = str(round(duration))
        if notify:
            self.sender.post(call.status_callback, call.status_callback_method,
                             callbacks.call_event(call, self.account_sid, self.now(), duration))

    def hangup_call(self, call: Call, status: str = "completed") -> None:
        """End a live call (REST Status=completed, a phone hanging up, or the engine)."""
        leg = self.legs.get(call.sid)
        if leg is None:
            return
        leg.final_status = status if call.status != "in-progress" else "completed"
        leg.interrupt(None)

    def redirect_call(self, call: Call, url: str | None, method: str, twiml: str | None) -> None:
        """Calls update with Url/Twiml: interrupt the current verb and run the new TwiML.

        A conference participant leaves its conference (participant-leave,
        participant_updated_via_api: the Participants list holds no "call modified to use new
        TwiML", https://www.twilio.com/docs/voice/api/conference-participant-resource), and its
        <Connect><Stream> ends (twiml/stream: a bidirectional stream ends when the call is
        updated); <Start> forks carry on. An app: leg's membership does not hang on its
        TwiML, so it is taken out here (lenient "redirect-leaves" keeps it in)."""
        leg = self.legs.get(call.sid)
        if leg is None:
            return
        leg.interrupt(Redirect(url, method, twiml))
        if leg.join_on_answer is not None and self.strictness.strict("redirect-leaves"):
            for room in list(self.rooms.values()):
                if call.sid in room.members:
                    room.leave(call.sid, self.now(), "participant_updated_via_api")

    def on_answer(self, leg: Leg) -> None:
        """Answered: an app: participant joins its room before its TwiML runs."""
        if leg.join_on_answer is not None:
            room, part, settings = leg.join_on_answer
            self.join_room(room, part, settings, leg.left_conference)

    def finish_call(self, leg: Leg, status: str) -> None:
        """Greenlet epilogue: leave rooms, stop streams, final status."""
        call = leg.call
        for room in list(self.rooms.values()):
            if call.sid in room.members:
                room.leave(call.sid, self.now(), "participant_hung_up")
        for conf in self.store.conferences.values():
            if conf.participants.pop(call.sid, None) and not conf.participants \
                    and conf.status == "init":  # its only participant never joined
                self.end_conference(conf, "last-participant-left")
        for stream in list(call.streams):
            self.stop_stream(stream)
        self.legs.pop(call.sid, None)
        if call.live:
            self.set_call_status(call, status)

    # ---- conferences --------------------------------------------------------------------------
    def room_for_name(self, name: str) -> Room:
        """The live room with this friendly name, created if needed."""
        conf = self.store.active_conference(name)
        if conf is None:
            conf = self.store.add(Conference(account_sid=self.account_sid, friendly_name=name))
        return self.room(conf)

    def room(self, conf: Conference) -> Room:
        """The engine room of a conference resource."""
        if conf.sid not in self.rooms:
            self.rooms[conf.sid] = Room(conf, self._conference_callback, self.strictness)
        return self.rooms[conf.sid]

    def _conference_callback(self, conf: Conference, params: dict | None) -> None:
        self.sender.post(conf.status_callback, conf.status_callback_method, params)

    def join_room(self, room: Room, part: Participant, settings: dict, on_leave) -> None:
        """Admit a participant; the first one sets the conference callback settings."""
        if room.conf.status == "completed":  # it ended while this leg was ringing
            on_leave("conference_ended_via_api")
            return
        configure(room.conf, settings)
        room.join(part, on_leave, self.now())

    def leave_room_if_present(self, room: Room, call_sid: str, leg: Leg) -> None:
        """After a conference verb: leave if still a member (redirect or hang-up)."""
        if call_sid in room.members:
            why = "participant_updated_via_api" if leg.pending else "participant_hung_up"
            room.leave(call_sid, self.now(), why)

    def add_participant(self, conf: Conference, call: Call, part: Participant,
                        settings: dict) -> None:
        """Participants create: dial the participant and put it in the room when answered."""
        room = self.room(conf)
        configure(conf, settings)
        conf.participants.setdefault(call.sid, part)  # listed (queued) while it rings
        if call.to.startswith("app:"):
            app_sid, _, query = call.to[4:].partition("?")
            app = self.store.applications[app_sid]
            call.application_sid = app_sid
            call.parent_call_sid = call.sid
            call.custom_params = dict(parse_qsl(query))
            leg = self._launch(call, ConferenceParty(room, call.sid),
                               Redirect(app.voice_url, app.voice_method))
            leg.join_on_answer = (room, part, settings)
        else:
            leg = self._launch(call, PhoneParty(self.phone(call.to)), None)
            leg.implicit = (room, part, settings)

    def update_participant(self, conf: Conference, part: Participant, changes: dict) -> None:
        """Participants update."""
        self.room(conf).update(part, changes, self.now())

    def kick_participant(self, conf: Conference, part: Participant) -> None:
        """Participants delete: out of the conference; a REST-dialed leg then hangs up."""
        room = self.room(conf)
        if part.call_sid in room.members:
            room.leave(part.call_sid, self.now(), "participant_updated_via_api", kicked=True)
        else:
            conf.participants.pop(part.call_sid, None)
            call = self.store.calls.get(part.call_sid)
            if call is not None:
                self.hangup_call(call, "canceled")

    def end_conference(self, conf: Conference, reason: str) -> None:
        """Conferences update Status=completed."""
        self.room(conf).end(self.now(), reason)
        self.rooms.pop(conf.sid, None)
