"""Issue 9's end-to-end acceptance: Forkline (gunicorn) against the strict Twilio simulator.

The AI is the echo backend: a 2 kHz tone a phone plays comes back as the AI's voice. A phone
never hears itself, so 2 kHz in the customer's recording while only the customer plays it can
only be the AI; beeps (880/440 Hz) and hold music (< 600 Hz) do not reach that band.
"""
from __future__ import annotations

import contextlib
import io
import itertools
import math
import wave
from array import array
from datetime import datetime
from urllib.parse import parse_qsl

import pytest

from twilio_sim.testing import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

FREQ = 2000.0  # a whole number of periods per 20 ms frame: echoes add in phase
FRAME = 160  # samples per 20 ms frame at 8 kHz
HEARD = -30.0  # dBFS at FREQ: the tone (played at -12 dBFS) is there
ABSENT = -50.0  # dBFS at FREQ: nothing of it
TIMEOUT = 20.0
_HANN = [0.5 - 0.5 * math.cos(2 * math.pi * i / (FRAME - 1)) for i in range(FRAME)]
_COEFF = 2 * math.cos(2 * math.pi * FREQ / 8000)


def tone_levels(wav_bytes: bytes) -> list[float]:
    """Level (dBFS of a sine's peak) at FREQ in each 20 ms frame (Hann-windowed Goertzel)."""
    with wave.open(io.BytesIO(wav_bytes)) as wav:
        samples = array("h", wav.readframes(wav.getnframes()))
    levels = []
    for start in range(0, len(samples) - FRAME + 1, FRAME):
        s1 = s2 = 0.0
        for x, w in zip(samples[start:start + FRAME], _HANN, strict=True):
            s1, s2 = x * w + _COEFF * s1 - s2, s1
        power = max(s1 * s1 + s2 * s2 - _COEFF * s1 * s2, 0.0)
        peak = 4 * math.sqrt(power) / FRAME  # 2|X|/N, over the Hann window's gain of 1/2
        levels.append(20 * math.log10(peak / 32768) if peak > 0 else -120.0)
    return levels


def heard_frames(levels: list[float], start: int = 0, end: int | None = None) -> list[int]:
    """Frame indexes in [start, end) where the tone is heard."""
    return [i for i in range(start, len(levels) if end is None else end) if levels[i] > HEARD]


class Call:
    """One conference of the test: its phones, Forkline's view of it and the simulator's."""

    def __init__(self, e2e, name: str, customer: str, agent: str):
        self.e2e, self.name = e2e, name
        self.phones = {"customer": customer, "agent": agent}
        for number in self.phones.values():
            e2e.sim.record(number, "start")  # before any call: frame n of it is heard frame n

    def create(self, **extra) -> dict:
        """POST /api/conferences with the customer and the agent."""
        return self.e2e.api.call("POST", "/api/conferences", {"name": self.name, "participants": [
            {"to": self.phones[label], "role": label, "label": label}
            for label in ("customer", "agent")], **extra})

    def detail(self) -> dict:
        """GET /api/conferences/{name}."""
        return self.e2e.api.get(f"/api/conferences/{self.name}")

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
        """Tone levels of what the phone heard so far."""
        return tone_levels(self.e2e.sim.recording_wav(self.phones[label]))

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

    def end(self) -> None:
        """End the conference (cleanup)."""
        with contextlib.suppress(RuntimeError):  # DemoError: never mask the test's failure
            self.e2e.api.call("POST", f"/api/conferences/{self.name}/end", ok=(200,))


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


def test_whisper_requested_while_the_agent_rings_coaches_the_agent_once_joined(e2e):
    call = Call(e2e, "e2e-whisper", "+15550201001", "+15550201002")
    e2e.sim.answer_mode(call.phones["agent"], "answer", ring_seconds=4)
    try:
        created = call.create(ai={"agent": "default", "mode": "whisper", "coach": "agent"})
        assert (created["ai"]["mode"], created["ai"]["pending_coach"]) == ("whisper", True)

        # The AI joins while the agent still rings: muted, not coaching, waiting for its target.
        d = call.until(joined("ai"), "the AI to join")
        assert part(d, "agent").get("status") != "joined"
        ai = part(d, "ai")
        assert (ai["mode"], ai["muted"], ai["coaching"], ai["pending_coach"]) == \
            ("whisper", True, False, True)

        # The agent answers; its participant-join switches the AI to coaching it.
        d = call.until(joined("ai", coaching=True), "the AI to coach the agent")
        ai, agent = part(d, "ai"), part(d, "agent")
        assert agent["status"] == "joined"
        assert (ai["muted"], ai["pending_coach"], d["ai"]["pending_coach"]) == (False, False, False)
        assert [e["payload"].get("coach") for e in events(d, "coach-started")] == ["agent"]
        assert events(d, "coach-refused") == []
        sim_ai = e2e.client.conferences(d["twilio_sid"]).participants(ai["call_sid"]).fetch()
        assert (sim_ai.coaching, sim_ai.muted) == (True, False)
        assert sim_ai.call_sid_to_coach == agent["call_sid"]
        call.ai_started(ai["call_sid"], "ai-1")

        # The customer plays the tone: the AI says it back, to the agent only.
        at = {label: call.frames(label) for label in call.phones}
        seconds = e2e.sim.tone(call.phones["customer"], FREQ, 1500)["seconds"]
        played = round(seconds * 50)
        call.wait_heard("agent", at["agent"] + played + 50)
        call.wait_heard("customer", at["customer"] + played + 50)
        agent_heard = heard_frames(call.levels("agent"), at["agent"])
        # Directly, the agent hears `played` frames; the AI's echo comes later and lasts longer.
        assert agent_heard and agent_heard[-1] - agent_heard[0] + 1 > played, agent_heard
        customer = call.levels("customer")
        assert len(customer) >= at["customer"] + played + 50
        assert max(customer) < ABSENT  # from her first ring to now: never the AI's voice
    finally:
        call.end()


def test_killed_ai_socket_comes_back_through_the_connect_action(e2e):
    call = Call(e2e, "e2e-kill", "+15550202001", "+15550202002")
    try:
        call.create()
        call.until(lambda d: joined("customer")(d) and joined("agent")(d), "the humans to join")
        e2e.api.call("PUT", f"/api/conferences/{call.name}/ai",
                     {"agent": "default", "mode": "speak"}, ok=(200, 201))
        d = call.until(joined("ai", mode="speak"), "the AI to join")
        ai_sid, conf_sid = part(d, "ai")["call_sid"], d["twilio_sid"]
        first = call.ai_started(ai_sid, "ai-1")["StreamSid"]

        at = call.frames("customer")
        seconds = e2e.sim.tone(call.phones["customer"], FREQ, 6000)["seconds"]
        played = round(seconds * 50)
        # Mid-answer: the customer hears the AI saying her tone back, then its socket dies.
        wait_for(lambda: len(heard_frames(call.levels("customer"), at)) >= 25, TIMEOUT, 0.05,
                 message="the AI's echo at the customer")
        e2e.sim.stream_fault(first, "kill")
        killed_at = call.frames("customer")
        second = call.ai_started(ai_sid, "ai-2")
        resumed_at = call.frames("customer")
        assert second["StreamSid"] != first
        assert resumed_at < at + played - 50, "the reconnect took most of the tone"
        call.wait_heard("customer", at + played + 25)

        levels = call.levels("customer")
        assert heard_frames(levels, at, killed_at)  # before the kill
        # ... and again on the new stream: the AI carries on saying it back.
        assert len(heard_frames(levels, resumed_at, at + played)) > 25

        sent = [c["params"] for c in e2e.sim.callbacks()]
        error = next(p for p in sent if p.get("StreamSid") == first
                     and p.get("StreamEvent") == "stream-error")
        assert "31924" in error.get("StreamError", "")
        gap = (datetime.fromisoformat(second["Timestamp"])
               - datetime.fromisoformat(error["Timestamp"])).total_seconds()
        assert 0 <= gap < 2.0, gap  # on the simulator's clock, from socket loss to the new stream
        # What she missed of it (past the echo's first frames) is what Twilio could not deliver
        # while no socket was open: the gap, give or take a frame each side, and no more.
        heard = heard_frames(levels, at)
        holes = [(a, b - a - 1) for a, b in itertools.pairwise(heard)
                 if b - a > 1 and a >= heard[0] + 10]
        assert sum(n for _, n in holes) <= math.ceil(gap * 50) + 2, (gap, holes)
        # No Calls update: on the simulator that takes the AI out (participant-leave).
        assert not [p for p in sent if p.get("CallSid") == ai_sid
                    and p.get("StatusCallbackEvent") == "participant-leave"]
        sim_ai = next(c for c in e2e.sim.calls() if c["sid"] == ai_sid)
        assert (sim_ai["status"], sim_ai["conference_sid"]) == ("in-progress", conf_sid)
        assert [s["name"] for s in sim_ai["streams"]] == ["ai-1", "ai-2"]
        member = e2e.client.conferences(conf_sid).participants(ai_sid).fetch()
        assert (member.call_sid, member.status) == (ai_sid, "connected")

        d = call.detail()
        assert joined("ai", call_sid=ai_sid)(d) and d["twilio_sid"] == conf_sid
        assert [p["label"] for p in d["participants"] if p["role"] == "ai"] == ["ai"]
        assert events(d, "ai-connect-action") and not events(d, "ai-redialed")
        d = call.until(lambda d: ai_streams(d).get(second["StreamSid"], {}).get("status")
                       == "started", "Forkline to record the new stream")
        streams = ai_streams(d)
        assert set(streams) == {first, second["StreamSid"]}
        assert {s["call_sid"] for s in streams.values()} == {ai_sid}
        assert streams[first]["status"] != "started"
    finally:
        call.end()


def test_ai_removed_by_twilio_is_redialed_once_and_continues(e2e):
    call = Call(e2e, "e2e-redial", "+15550203001", "+15550203002")
    try:
        call.create()
        call.until(lambda d: joined("customer")(d) and joined("agent")(d), "the humans to join")
        e2e.api.call("PUT", f"/api/conferences/{call.name}/ai",
                     {"agent": "default", "mode": "speak"}, ok=(200, 201))
        d = call.until(joined("ai", mode="speak"), "the AI to join")
        old_sid, conf_sid = part(d, "ai")["call_sid"], d["twilio_sid"]
        call.ai_started(old_sid, "ai-1")

        # Twilio's side (the simulator's Participants API), not Forkline, removes the AI.
        e2e.client.conferences(conf_sid).participants(old_sid).delete()
        d = call.until(lambda d: d["ai"]["call_sid"] != old_sid and d["ai"]["present"]
                       and d["ai"]["status"] == "joined", "the AI to be re-dialed")
        new_sid = d["ai"]["call_sid"]
        assert new_sid.startswith("CA") and new_sid != old_sid
        call.ai_started(new_sid, "ai-1")
        calls = {c["sid"]: c for c in e2e.sim.calls()}
        assert calls[old_sid]["status"] == "completed"
        assert (calls[new_sid]["status"], calls[new_sid]["conference_sid"]) == \
            ("in-progress", conf_sid)
        members = e2e.client.conferences(conf_sid).participants.list()
        assert new_sid in {m.call_sid for m in members} and old_sid not in \
            {m.call_sid for m in members}
        # A new app: participant that names the call whose conversation it carries on.
        old_to, new_to = dial_params(calls[old_sid]), dial_params(calls[new_sid])
        assert new_to.get("continues") == old_sid and "continues" not in old_to
        assert {sid for sid, c in calls.items()
                if dial_params(c).get("conference") == old_to["conference"]} == {old_sid, new_sid}

        # It continues: the customer's tone comes back from the new AI.
        at = call.frames("customer")
        seconds = e2e.sim.tone(call.phones["customer"], FREQ, 1500)["seconds"]
        call.wait_heard("customer", at + round(seconds * 50) + 25)
        assert len(heard_frames(call.levels("customer"), at)) > 25

        d = call.detail()
        assert len(events(d, "ai-redialed")) == 1  # once
        assert events(d, "ai-redial-failed") == []
        assert [(p["call_sid"], p["status"]) for p in d["participants"] if p["role"] == "ai"] \
            == [(new_sid, "joined")]  # the AI's row, now on the new call
    finally:
        call.end()
