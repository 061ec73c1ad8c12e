"""Twilio's documented conference rules for the REST fake, shared with the simulator.

The label and coach checks are `twilio_sim.rules` (the same code the simulator runs), so the
two stand-ins cannot disagree; `lenient` takes the simulator's rule names
(twilio_sim/strictness.py) for tests that still need the older, kinder behaviour.
"""
from __future__ import annotations

from dataclasses import dataclass

from twilio_sim.rules import coach_problem, label_problem


class FakeError(Exception):
    """A Twilio error the fake answers with (code, message, HTTP status)."""

    def __init__(self, code: int, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


@dataclass
class _Conf:
    """The view of a fake conference that twilio_sim.rules.coach_problem reads."""

    participants: dict


@dataclass
class _Room:
    conf: _Conf
    members: set
    started: bool


class ConferenceRules:
    """Mixin for FakeTwilio: participants join/leave, conferences end, labels and coaching."""

    lenient: frozenset = frozenset()
    participants: dict
    calls: dict
    conferences: dict

    def strict(self, rule: str) -> bool:
        """True unless `rule` was relaxed for this fake."""
        return rule not in self.lenient

    def members(self, conf: dict) -> list[dict]:
        """The participants of a conference (any status)."""
        return [p for p in self.participants.values() if p["conference_sid"] == conf["sid"]]

    def join(self, call_sid: str) -> None:
        """Test hook: the participant's call was answered and joined (participant-join). The
        conference starts with 2 present (twiml/conference: startConferenceOnEnter)."""
        part = self.participants[call_sid]
        part["status"] = "connected"
        self.calls[call_sid]["status"] = "in-progress"
        conf = self.conferences[part["conference_sid"]]
        if sum(p["status"] == "connected" for p in self.members(conf)) >= 2:
            conf["status"] = "in-progress"

    def leave(self, call_sid: str, call_status: str | None = "completed") -> None:
        """A participant is out (hung up, kicked or redirected); the conference ends when the
        last one leaves or one with EndConferenceOnExit does (twiml/conference)."""
        part = self.participants.pop(call_sid)
        if call_status:
            self.calls[call_sid]["status"] = call_status
        conf = self.conferences[part["conference_sid"]]
        rest = self.members(conf)
        joined = part["status"] == "connected"  # one that never joined ends nothing
        if (joined and part["end_conference_on_exit"]) or not rest:
            conf["status"] = "completed"
            for other in rest:
                self.leave(other["call_sid"])

    def check_label(self, conf: dict, label: str | None) -> None:
        """Label rules; a duplicate over REST is 16026 (errors/16026)."""
        problem = label_problem(label, self.strict("labels"))
        if problem is not None:
            raise FakeError(20001, problem)
        if label and any(p["label"] == label for p in self.members(conf)):
            raise FakeError(16026 if self.strict("labels") else 16025,
                            f"Participant label {label} already exists")

    def check_coach(self, conf: dict, target: str | None) -> None:
        """13240 unless `target` is connected to this in-progress conference; 16027 on hold."""
        parts = {p["call_sid"]: _Part(p) for p in self.members(conf)}
        room = _Room(_Conf(parts), {s for s, p in parts.items() if p.status == "connected"},
                     conf["status"] == "in-progress")
        problem = coach_problem(room, target, self.strict("coach"))
        if problem is not None:
            raise FakeError(*problem)


class _Part:
    """Attribute view of a fake participant dict."""

    def __init__(self, p: dict) -> None:
        self.status, self.hold = p["status"], p["hold"]
