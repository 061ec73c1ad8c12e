"""The demo's story, step by step, against a running stack (simulator + Forkline)."""
from __future__ import annotations

from dataclasses import dataclass, field

from demo_api import AdminApi, DemoError, participant, wait_until
from demo_audio import first_audio_ms, frame_levels, reply_finished, segments, wav_pcm
from demo_timeline import Timeline

PHONES = {"customer": "+15550100001", "agent": "+15550100002", "supervisor": "+15550100003"}
QUESTIONS = (("fixture", "opening_hours", "What are your opening hours?"),
             ("say", "Where are you located?", "Where are you located?"))
BARGE_IN = (("say", "How much does it cost?", "How much does it cost?"),
            ("fixture", "hello", "Hello?"))
WHISPER = "Offer the customer our premium plan."
LISTEN_ASIDE = "Supervisor here, just listening."


@dataclass
class Mark:
    """Where each phone's recording was (in 20 ms frames) when a phone started to speak."""

    name: str
    speaker: str
    text: str
    seconds: float
    at: dict[str, int]
    t: float
    kind: str = "question"  # question | interruption | listen | whisper | ai-whisper


@dataclass
class Story:
    """What the scenario did, for the report."""

    conference: str
    marks: list[Mark] = field(default_factory=list)
    supervisor_label: str = ""
    supervisor_states: list[dict] = field(default_factory=list)
    ai_joined: bool = False
    barge_in: Mark | None = None
    ai_whisper_state: dict | None = None


class Scenario:
    """Drives Forkline's admin API and the simulated phones; waits on conditions, never sleeps."""

    def __init__(self, api: AdminApi, sim, timeline: Timeline, name: str, timeout_s: float):
        self.api, self.sim, self.tl = api, sim, timeline
        self.story = Story(name)
        self.timeout_s = timeout_s

    def detail(self) -> dict:
        """The conference as Forkline sees it."""
        return self.api.get(f"/api/conferences/{self.story.conference}")

    def joined(self, label: str, **state) -> dict | None:
        """The participant once joined (and in `state`), else None."""
        p = participant(self.detail(), label)
        if p and p["status"] == "joined" and all(p.get(k) == v for k, v in state.items()):
            return p
        return None

    def frames(self) -> dict[str, int]:
        """How much each phone has heard so far (its recording's length, in frames)."""
        heard = {p["number"]: p["frames_heard"] for p in self.sim.phones()}
        return {label: heard.get(number, 0) for label, number in PHONES.items()}

    def run(self) -> Story:
        """The whole story."""
        for number in PHONES.values():
            self.sim.record(number, "start")
        self.create_conference()
        self.add_ai()
        self.ask(*QUESTIONS[0])
        self.supervisor_listens()
        self.ask(*QUESTIONS[1])
        self.barge_in()
        self.supervisor_whispers()
        self.ai_whispers()
        self.end()
        return self.story

    def create_conference(self) -> None:
        """A customer and an agent, dialed through the Participants API."""
        self.tl.add("step", f"create conference {self.story.conference!r}: customer + agent")
        self.api.call("POST", "/api/conferences", {
            "name": self.story.conference,
            "participants": [{"to": PHONES["customer"], "role": "customer", "label": "customer"},
                             {"to": PHONES["agent"], "role": "agent", "label": "agent"}]})
        self.tl.follow(self.story.conference)
        for label in ("customer", "agent"):
            wait_until(lambda label=label: self.joined(label), self.timeout_s, f"{label} join")

    def add_ai(self) -> None:
        """The AI joins in speak mode; ready once its media stream is up."""
        self.tl.add("step", "add the AI (agent 'default', local backend) in speak mode")
        self.api.call("PUT", f"/api/conferences/{self.story.conference}/ai",
                      {"agent": "default", "mode": "speak"})
        wait_until(lambda: self.joined("ai", mode="speak"), self.timeout_s, "the AI to join")
        wait_until(lambda: any(s["kind"] == "ai" and s["status"] == "started"
                               for s in self.detail()["streams"]),
                   self.timeout_s, "the AI's media stream")
        self.story.ai_joined = True

    def speak(self, label: str, how: str, what: str, text: str, kind: str = "question") -> Mark:
        """Make a phone speak a fixture or a line of text; returns where it started."""
        at = self.frames()
        number = PHONES[label]
        if how == "fixture":
            seconds = self.sim.play_fixture(number, what + ".wav")["seconds"]
        else:
            seconds = self.sim.say(number, what)["seconds"]
        mark = Mark(f"{label}-{len(self.story.marks)}", label, text, seconds, at, self.tl.now(),
                    kind)
        self.story.marks.append(mark)
        self.tl.add("phone", f"{label} says “{text}” ({seconds:.1f}s)", mark=mark.name)
        return mark

    def ask(self, how: str, what: str, text: str) -> None:
        """The customer asks; wait until the AI's spoken reply has reached the customer."""
        mark = self.speak("customer", how, what, text)
        reply = wait_until(lambda: self._reply_heard(mark), self.timeout_s + 30,
                           "the AI's spoken reply at the customer", interval_s=0.25)
        agent = frame_levels(wav_pcm(self.sim.recording_wav(PHONES["agent"])))
        latency = first_audio_ms(agent, mark.at["agent"])
        self.tl.add("audio", f"customer heard the AI's reply: {reply.end_s - reply.start_s:.1f}s "
                             f"of speech; first audio {latency} ms after her question ended",
                    first_audio_ms=latency)

    def customer_levels(self) -> list[float]:
        """Per-frame levels of what the customer has heard so far."""
        return frame_levels(wav_pcm(self.sim.recording_wav(PHONES["customer"])))

    def _reply_heard(self, mark: Mark):
        return reply_finished(self.customer_levels(), mark.at["customer"])

    def barge_in(self) -> None:
        """The customer talks over the AI's answer; the AI stops and answers the interruption."""
        self.tl.add("step", "customer asks, then talks over the AI's answer (barge-in)")
        question = self.speak("customer", *BARGE_IN[0])
        wait_until(lambda: segments(self.customer_levels(), question.at["customer"]),
                   self.timeout_s + 30, "the AI to start answering", interval_s=0.05)
        self.tl.add("audio", "the AI's answer reaches the customer; the customer interrupts")
        self.story.barge_in = self.speak("customer", *BARGE_IN[1], kind="interruption")
        # The cut-off answer's last frames end after the interruption began: wait for the reply
        # that starts once the customer has finished speaking.
        done = self.story.barge_in.at["customer"] + round(self.story.barge_in.seconds * 50)
        reply = wait_until(lambda: reply_finished(self.customer_levels(), done),
                           self.timeout_s + 30, "the AI's reply to the interruption",
                           interval_s=0.25)
        levels = self.customer_levels()
        cut_at = next((s.end for s in segments(levels, question.at["customer"])
                       if s.end >= self.story.barge_in.at["customer"]), None)
        stopped = (cut_at - self.story.barge_in.at["customer"]) * 20 if cut_at else None
        self.tl.add("audio", f"the AI's voice stopped {stopped} ms after she started talking; "
                             f"its reply to her: {reply.end_s - reply.start_s:.1f}s of speech",
                    stopped_after_ms=stopped)

    def supervisor_listens(self) -> None:
        """A supervisor joins muted; what it says is heard by nobody."""
        self.tl.add("step", "supervisor joins in listen mode")
        body = self.api.call("POST", f"/api/conferences/{self.story.conference}/supervisors",
                             {"to": PHONES["supervisor"], "mode": "listen"})
        label = self.story.supervisor_label = body["label"]
        state = wait_until(lambda: self.joined(label, muted=True), self.timeout_s,
                           "the supervisor to join muted")
        self.story.supervisor_states.append(state)
        self._speak_and_wait("supervisor", LISTEN_ASIDE, "listen")

    def supervisor_whispers(self) -> None:
        """The supervisor switches to whisper (coaching the agent) and coaches."""
        label = self.story.supervisor_label
        self.tl.add("step", "supervisor switches to whisper, coaching the agent")
        self.api.call("PATCH", f"/api/conferences/{self.story.conference}/supervisors/{label}",
                      {"mode": "whisper", "coach": "agent"}, ok=(200,))
        state = wait_until(lambda: self.joined(label, coaching=True, muted=False),
                           self.timeout_s, "Twilio to confirm the supervisor coaching")
        self.story.supervisor_states.append(state)
        self._speak_and_wait("supervisor", WHISPER, "whisper")

    def ai_whispers(self) -> None:
        """The AI switches to whisper: it now coaches the agent, and the customer cannot hear it."""
        self.tl.add("step", "the AI switches to whisper mode, coaching the agent")
        self.api.call("PUT", f"/api/conferences/{self.story.conference}/ai",
                      {"agent": "default", "mode": "whisper", "coach": "agent"}, ok=(200,))
        self.story.ai_whisper_state = wait_until(
            lambda: self.joined("ai", mode="whisper", coaching=True), self.timeout_s,
            "Twilio to confirm the AI coaching the agent")
        mark = self.speak("customer", *QUESTIONS[0], kind="ai-whisper")
        done = mark.at["agent"] + round(mark.seconds * 50) + 5  # after the question itself

        def agent_heard_reply():
            pcm = wav_pcm(self.sim.recording_wav(PHONES["agent"]))
            return reply_finished(frame_levels(pcm), done)

        reply = wait_until(agent_heard_reply, self.timeout_s + 30,
                           "the AI's whispered answer at the agent", interval_s=0.25)
        self.tl.add("audio", f"the agent heard the AI's whispered answer "
                             f"({reply.end_s - reply.start_s:.1f}s); the customer did not")

    def _speak_and_wait(self, label: str, text: str, kind: str) -> None:
        mark = self.speak(label, "say", text, text, kind)
        done = mark.at[label] + round(mark.seconds * 50) + 25  # spoken, plus half a second
        wait_until(lambda: self.frames()[label] >= done, self.timeout_s + mark.seconds,
                   f"the {label} to finish speaking", interval_s=0.1)

    def end(self) -> None:
        """End the conference and wait for Twilio's conference-end."""
        self.tl.add("step", "end the conference")
        self.api.call("POST", f"/api/conferences/{self.story.conference}/end", ok=(200,))
        wait_until(lambda: self.detail()["status"] in ("completed", "failed"), self.timeout_s,
                   "the conference to end")
        for number in PHONES.values():
            self.sim.record(number, "stop")


def require(condition: bool, message: str) -> None:
    """DemoError unless `condition`."""
    if not condition:
        raise DemoError(message)
