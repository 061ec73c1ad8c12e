"""The e2e suites' view of one conference: its phones (simulator), Forkline's detail of it,
and the tone measurements that tell who heard whom (shared by tests/e2e's modules).

The AI is the echo backend: a 2 kHz tone a phone plays comes back as the AI's voice. A phone
never hears itself, so 2 kHz in a phone's recording while only another phone plays it can only
be the AI (or that phone, directly); beeps (880/440 Hz) and hold music (< 600 Hz) do not reach
that band.
"""
from __future__ import annotations

import contextlib
from urllib.parse import parse_qsl

from support.tones import tone_levels
from twilio_sim.testing import wait_for

FREQ = 2000.0  # a whole number of periods per 20 ms frame: echoes add in phase
HEARD = -30.0  # dBFS at FREQ: the tone (played at -12 dBFS) is there
ABSENT = -50.0  # dBFS at FREQ: nothing of it
TIMEOUT = 20.0


def heard_frames(levels: list[float], start: int = 0, end: int | None = None) -> list[int]:
    """Frame indexes in [start, end) where the tone is heard."""
    return [i for i in range(start, len(levels) if end is None else end) if levels[i] > HEARD]


class Call:
    """One conference of the test: its phones, Forkline's view of it and the simulator's."""

    freq = FREQ  # the tone `levels` measures

    def __init__(self, e2e, name: str, customer: str, agent: str, api=None):
        self.e2e, self.name = e2e, name
        self.api = api or e2e.api  # another tenant's admin API, if given
        self.phones = {"customer": customer, "agent": agent}
        for number in self.phones.values():
            e2e.sim.record(number, "start")  # before any call: frame n of it is heard frame n

    def create(self, **extra) -> dict:
        """POST /api/conferences with the customer and the agent."""
        return self.api.call("POST", "/api/conferences", {"name": self.name, "participants": [
            {"to": self.phones[label], "role": label, "label": label}
            for label in ("customer", "agent")], **extra})

    def detail(self) -> dict:
        """GET /api/conferences/{name}."""
        return self.api.get(f"/api/conferences/{self.name}")

    def until(self, predicate, what: str) -> dict:
        """The first conference detail for which `predicate` holds."""
        def check():
            d = self.detail()
            return d if predicate(d) else None
        return wait_for(check, TIMEOUT, 0.05, message=what)

    def frames(self, label: str) -> int:
        """How many frames the phone has heard (its recording's length)."""
        number = self.phones[label]
        return next(p["frames_heard"] for p in self.e2e.sim.phones() if p["number"] == number)

    def levels(self, label: str) -> list[float]:
        """Tone levels (at `freq`, per 20 ms frame) of what the phone heard so far."""
        return tone_levels(self.e2e.sim.recording_wav(self.phones[label]), self.freq)

    def wait_heard(self, label: str, frames: int) -> None:
        """Until the phone has heard `frames` frames in all."""
        wait_for(lambda: self.frames(label) >= frames, TIMEOUT, 0.05,
                 message=f"{label} to hear {frames} frames")

    def ai_started(self, call_sid: str, stream_name: str) -> dict:
        """The simulator's stream-started callback of the AI stream `stream_name`."""
        def started():
            return next((c["params"] for c in self.e2e.sim.callbacks()
                         if c["params"].get("StreamEvent") == "stream-started"
                         and c["params"].get("CallSid") == call_sid
                         and c["params"].get("StreamName") == stream_name), None)
        return wait_for(started, TIMEOUT, 0.05, message=f"{stream_name} on {call_sid}")

    def humans_and_speaking_ai(self) -> tuple[str, str, str]:
        """Create the conference, wait for both humans, bring the AI in speaking and wait for its
        first stream; returns (the AI's CallSid, the conference's Twilio SID, that StreamSid)."""
        self.create()
        self.until(lambda d: joined("customer")(d) and joined("agent")(d), "the humans to join")
        self.api.call("PUT", f"/api/conferences/{self.name}/ai",
                          {"agent": "default", "mode": "speak"}, ok=(200, 201))
        d = self.until(joined("ai", mode="speak"), "the AI to join")
        ai_sid = part(d, "ai")["call_sid"]
        return ai_sid, d["twilio_sid"], self.ai_started(ai_sid, "ai-1")["StreamSid"]

    def sim_call(self, call_sid: str) -> dict:
        """The simulator's view of a call (/sim/calls), streams keyed by StreamSid."""
        call = next(c for c in self.e2e.sim.calls() if c["sid"] == call_sid)
        return {**call, "streams": {s["sid"]: s for s in call["streams"]}}

    def stream_audio(self, stream_sids) -> dict[str, dict]:
        """Forkline's account of each AI stream's inbound audio (once the stream has ended)."""
        d = self.until(lambda d: all("audio" in ai_streams(d).get(sid, {}) for sid in stream_sids),
                       "Forkline to account for the AI streams' audio")
        return {sid: ai_streams(d)[sid]["audio"] for sid in stream_sids}

    def end(self) -> None:
        """End the conference (cleanup)."""
        with contextlib.suppress(RuntimeError):  # DemoError: never mask the test's failure
            self.api.call("POST", f"/api/conferences/{self.name}/end", ok=(200,))


def part(detail: dict, label: str) -> dict:
    """A participant of a conference detail ({} if absent)."""
    return next((p for p in detail["participants"] if p["label"] == label), {})


def joined(label: str, **state):
    """Predicate: `label` joined (and in `state`)."""
    def check(d: dict) -> bool:
        p = part(d, label)
        return p.get("status") == "joined" and all(p.get(k) == v for k, v in state.items())
    return check


def dial_params(sim_call: dict) -> dict:
    """The query of an `app:` participant's To (what Forkline dialed), {} for a phone."""
    to = sim_call["to"]
    return dict(parse_qsl(to.partition("?")[2])) if to.startswith("app:") else {}


def ai_streams(detail: dict) -> dict[str, dict]:
    """Forkline's AI streams by StreamSid."""
    return {s["stream_sid"]: s for s in detail["streams"] if s["kind"] == "ai"}


def events(detail: dict, name: str) -> list[dict]:
    """Forkline's recorded events called `name`."""
    return [e for e in detail["events"] if e["event"] == name]


