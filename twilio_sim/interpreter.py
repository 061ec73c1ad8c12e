"""Runs one call: rings, answers, fetches and executes its TwiML, and moves its audio each tick."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urljoin

import gevent
from gevent.event import Event

from . import callbacks, twiml
from .activities import Activity, ConferenceActivity, PauseActivity, PlayActivity, StreamActivity
from .audio import SILENCE
from .fetch import FetchError
from .rules import coach_problem, label_problem
from .store import Call, Conference, Participant

log = logging.getLogger("twilio_sim.interpreter")
MAX_DOCUMENTS = 50  # Redirect loops end the call, like Twilio's 'too many redirects'
APPLICATION_ERROR = "We are sorry, an application error has occurred. Goodbye."  # UNVERIFIED


@dataclass
class Redirect:
    """Where the call's TwiML comes from next."""

    url: str | None = None
    method: str = "POST"
    twiml: str | None = None
    extra: dict | None = None  # more request params, e.g. DialCallStatus for a Dial action


class Leg:
    """The runtime of one call; the engine ticks it and owns its greenlet."""

    def __init__(self, sim, call: Call, party, first: Redirect | None):
        self.sim, self.call, self.party = sim, call, party
        self.first = first
        self.activity: Activity | None = None
        self.forks: list = []  # stream ports fed every tick
        self.pending: Redirect | None = None
        self.hung_up = Event()
        self.final_status = "completed"
        self.error: str | None = None
        self.conference_sid: str | None = None
        self.greenlet = None
        self.doc_url: str | None = None  # base for relative URLs in the current document
        self.implicit = None  # (room, participant, settings) for a REST-dialed phone participant
        self.join_on_answer = None  # the same, for an app: participant (joins, then runs TwiML)
        # Frames of the party's audio no <Connect><Stream> socket took: before it connected,
        # after it was lost, and while its action URL was fetched (Twilio buffers none of it).
        self.frames_unstreamed = 0

    # ---- audio -------------------------------------------------------------------------------
    def tick(self) -> None:
        """Move one 20 ms frame: party -> TwiML activity -> party, feeding the forks."""
        if self.call.status != "in-progress":
            return  # no media while ringing: a phone's scripted audio waits for the answer
        up = self.party.emit()
        activity = self.activity
        live = activity is not None and not activity.done.is_set()
        down = activity.step(up) if live else SILENCE
        if not (live and getattr(activity, "took", False)):
            self.frames_unstreamed += 1
        for port in list(self.forks):
            port.feed(up, down)
        self.party.hear(down)
        phone = getattr(self.party, "phone", None)
        if phone is not None and phone.hangup_due and not self.hung_up.is_set():
            self.sim.hangup_call(self.call, "completed")

    # ---- control -----------------------------------------------------------------------------
    def left_conference(self, reason: str) -> None:
        """An app: leg out of its conference (kicked, or the conference ended) hangs up;
        one taken out by a Calls update runs its new TwiML instead."""
        if self.pending is None:
            self.sim.hangup_call(self.call)

    def interrupt(self, redirect: Redirect | None) -> None:
        """Stop the current verb; then run `redirect` or hang up (None)."""
        if redirect is None:
            self.hung_up.set()
        else:
            self.pending = redirect
        activity = self.activity
        if activity is not None:
            activity.cancel()

    def run(self) -> None:
        """Greenlet body: ring, answer, then execute TwiML documents until the call ends."""
        try:
            if not self.ring():
                return
            source, documents = self.first, 0
            if self.call.direction == "inbound":  # Twilio fetches the first TwiML while ringing
                documents, verbs = 1, self.load(source)
                self.answer()
                source = self.execute(verbs)
            else:
                self.answer()
                if self.implicit is not None:
                    source = self.stay_in_conference(*self.implicit)
            while source is not None and not self.hung_up.is_set():
                documents += 1
                if documents > MAX_DOCUMENTS:
                    raise twiml.TwimlError("too many redirects")
                source = self.execute(self.load(source))
        except (twiml.TwimlError, FetchError) as exc:
            self.error = str(exc)
            log.warning("call %s ended by an application error: %s", self.call.sid, exc)
            self.announce_error()
        except gevent.GreenletExit:
            raise
        except Exception:  # never let one call take the simulator down
            log.exception("call %s crashed", self.call.sid)
            self.error = "internal simulator error"
        finally:
            self.sim.finish_call(self, self.final_status)

    def announce_error(self) -> None:
        """Twilio plays a pre-recorded error message when it cannot retrieve or run the TwiML
        (https://www.twilio.com/blog/a-hidden-gem-fallback-urls-html; no Fallback URL here).
        On an `app:` leg the far end is the conference: everyone in it hears it."""
        if (self.call.status == "in-progress" and not self.hung_up.is_set()
                and self.sim.strictness.strict("app-error")):
            self.play(PlayActivity(self.sim.speech(APPLICATION_ERROR)))

    def ring(self) -> bool:
        """Ring the far end; False if it is busy, does not answer, fails or is hung up on."""
        self.sim.set_call_status(self.call, "ringing")
        if self.call.direction == "inbound":
            return True
        mode, ring_s = self.sim.answer_mode(self.party)
        rate = self.sim.clock.rate
        self.hung_up.wait(ring_s / rate if rate != float("inf") else 0)
        if mode != "answer" and not self.hung_up.is_set():
            self.final_status = mode
            return False
        return not self.hung_up.is_set()

    def answer(self) -> None:
        """The far end picked up."""
        self.sim.set_call_status(self.call, "in-progress")
        self.sim.on_answer(self)

    def load(self, source: Redirect) -> list:
        """The verbs of a TwiML document given inline or by URL."""
        if source.twiml is not None:
            self.doc_url = None
            return twiml.parse(source.twiml)
        self.doc_url = source.url
        params = callbacks.voice_params(self.call, self.sim.account_sid)
        params.update(source.extra or {})
        return twiml.parse(self.sim.fetch(source.url, source.method, params))

    def execute(self, verbs: list) -> Redirect | None:
        """Run verbs in order; return the next document to load, or None to hang up."""
        for verb in verbs:
            if self.hung_up.is_set():
                return None
            nxt = self.run_verb(verb)
            if self.pending is not None:
                nxt, self.pending = self.pending, None
            if nxt is not None:
                return nxt
        return None

    def run_verb(self, verb) -> Redirect | None:
        """Execute one verb, blocking while it plays."""
        if isinstance(verb, twiml.Hangup):
            self.hung_up.set()
        elif isinstance(verb, twiml.Redirect):
            return Redirect(self.resolve(verb.url), verb.method)
        elif isinstance(verb, twiml.Say):
            self.play(PlayActivity(self.sim.speech(verb.text), loop=verb.loop))
        elif isinstance(verb, twiml.Play):
            audio = self.sim.fetch_audio(self.resolve(verb.url))
            self.play(PlayActivity(audio, loop=verb.loop))
        elif isinstance(verb, twiml.Pause):
            self.play(PauseActivity(verb.length))
        elif isinstance(verb, twiml.StartStream):
            self.sim.start_stream_spec(self, self.stream_spec(verb.stream), bidirectional=False)
        elif isinstance(verb, twiml.StopStream):
            self.sim.stop_streams_named(self.call, verb.name)
        elif isinstance(verb, twiml.ConnectStream):
            port = self.sim.start_stream_spec(self, self.stream_spec(verb.stream),
                                              bidirectional=True)
            self.play(StreamActivity(port))
            self.sim.stop_stream(port.stream)  # redirected or hung up: the app gets `stop`
            return self.connect_action(verb)
        elif isinstance(verb, twiml.DialConference):
            return self.dial_conference(verb)
        return None

    def play(self, activity: Activity) -> None:
        """Make `activity` current and block until it is done or interrupted."""
        self.activity = activity
        try:
            activity.done.wait()
        finally:
            self.activity = None
            activity.cancel()

    def dial_conference(self, verb: twiml.DialConference) -> Redirect | None:
        """<Dial><Conference>: join (creating it by name), block until we leave."""
        room = self.sim.room_for_name(verb.name)
        conf: Conference = room.conf
        problem = coach_problem(room, verb.coach, self.sim.strictness.strict("coach")) \
            if verb.coach else None
        if problem is not None:  # twiml/conference#coach: "fails to the Dial action"
            self.error = f"{problem[0]} {problem[1]}"
            return self.dial_action(verb, "failed")
        label = verb.participant_label
        if label and (label_problem(label, self.sim.strictness.strict("labels"))
                      or self.sim.store.find_participant(conf, label)):
            # twiml/conference#participantlabel: 16025, not added, the next verb runs
            self.error = f"16025 participantLabel {label[:40]!r} refused"
            return None
        part = Participant(call_sid=self.call.sid, conference_sid=conf.sid,
                           account_sid=conf.account_sid, label=label,
                           muted=verb.muted, coaching=bool(verb.coach),
                           call_sid_to_coach=verb.coach, beep=verb.beep,
                           start_conference_on_enter=verb.start_conference_on_enter,
                           end_conference_on_exit=verb.end_conference_on_exit,
                           wait_url=verb.wait_url)
        settings = {"status_callback": verb.status_callback and self.resolve(verb.status_callback),
                    "status_callback_method": verb.status_callback_method,
                    "status_callback_events": list(verb.status_callback_event)}
        activity = ConferenceActivity(room, self.call.sid)
        self.sim.join_room(room, part, settings, activity.left)
        self.conference_sid = conf.sid
        self.play(activity)
        self.sim.leave_room_if_present(room, self.call.sid, self)
        self.conference_sid = None
        return self.dial_action(verb, "completed")

    def stay_in_conference(self, room, part: Participant, settings: dict) -> Redirect | None:
        """A REST-dialed phone: in the conference until it leaves; then a redirect or hang-up."""
        activity = ConferenceActivity(room, self.call.sid)
        self.sim.join_room(room, part, settings, activity.left)
        self.conference_sid = room.conf.sid
        self.play(activity)
        self.sim.leave_room_if_present(room, self.call.sid, self)
        self.conference_sid = None
        nxt, self.pending = self.pending, None
        return nxt

    def connect_action(self, verb: twiml.ConnectStream) -> Redirect | None:
        """<Connect> ended (socket closed, lost or never opened): request its action URL, whose
        TwiML runs next (https://www.twilio.com/docs/voice/twiml/connect#action); without
        one, the next verb. Not after a redirect or hang-up, which replace the document."""
        if verb.action and not self.hung_up.is_set() and self.pending is None:
            return Redirect(self.resolve(verb.action), verb.method)
        return None

    def dial_action(self, verb: twiml.DialConference, status: str) -> Redirect | None:
        """Continue at the Dial action URL, if any, telling it the DialCallStatus."""
        if verb.action and not self.hung_up.is_set() and self.pending is None:
            return Redirect(self.resolve(verb.action), verb.method,
                            extra={"DialCallStatus": status})
        return None

    def resolve(self, url: str) -> str:
        """A URL relative to the current TwiML document."""
        return urljoin(self.doc_url, url) if self.doc_url else url

    def stream_spec(self, spec: twiml.StreamSpec) -> twiml.StreamSpec:
        """The spec with a relative url made absolute (http(s) -> ws(s))."""
        if "://" in spec.url:
            return spec
        absolute = self.resolve(spec.url)
        absolute = "ws" + absolute[4:] if absolute.startswith("http") else absolute
        if not absolute.startswith(("ws://", "wss://")):
            raise twiml.TwimlError(f"cannot resolve stream url {spec.url[:80]}")
        return twiml.StreamSpec(absolute, spec.name, spec.track, spec.status_callback,
                                spec.status_callback_method, spec.parameters)
