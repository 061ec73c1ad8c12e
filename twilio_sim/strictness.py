"""Which Twilio refusals and side effects the simulator enforces (all of them unless told).

Each rule can be relaxed by name (`--lenient coach,labels` or TWILIO_SIM_LENIENT) so an app
can keep its old tests running while it is fixed; `ws://` stream URLs need the explicit
development flag (`--allow-ws` or TWILIO_SIM_ALLOW_WS=1) because Twilio accepts only `wss://`.
"""
from __future__ import annotations

from dataclasses import dataclass

RULES = {
    "coach": "coach / CallSidToCoach must be connected to the in-progress conference "
             "(13240), and not on hold (16027)",
    "labels": "participant labels: not CallSid-shaped, no '/', at most 128 characters",
    "stream-names": "a stream name is used once per call (live or ended)",
    "redirect-leaves": "a Calls update with Url/Twiml takes a participant out of its conference",
    "hold-music": "participants waiting for the start hear hold music unless WaitUrl is empty",
    "beeps": "beeps on join and leave, per Beep",
    "app-error": "a TwiML fetch that fails (non-2xx, bad TwiML) plays the application-error "
                 "message to the call's far end before it ends",
}


@dataclass(frozen=True)
class Strictness:
    """The rules relaxed for this simulator process, and whether ws:// is allowed."""

    lenient: frozenset = frozenset()
    allow_ws: bool = False

    def strict(self, rule: str) -> bool:
        """True if `rule` (a RULES key) is enforced."""
        return rule not in self.lenient

    def as_json(self) -> dict:
        """For GET /sim/strictness."""
        return {"allow_ws": self.allow_ws,
                "rules": {name: name not in self.lenient for name in RULES}}


def parse_lenient(text: str | None) -> frozenset:
    """'coach,labels' (or 'all') -> the set of relaxed rules; ValueError on an unknown name."""
    names = {n.strip() for n in (text or "").split(",") if n.strip()}
    if "all" in names:
        return frozenset(RULES)
    unknown = names - set(RULES)
    if unknown:
        raise ValueError(f"unknown strictness rule(s): {', '.join(sorted(unknown))}; "
                         f"known: {', '.join(RULES)}")
    return frozenset(names)
