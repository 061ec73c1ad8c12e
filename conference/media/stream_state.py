"""Sans-I/O per-socket state machine (connected -> started -> stopped) and duplicate fencing."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conference.media.codec import Connected, Malformed, Media, Message, Start, Stop

NEW, CONNECTED, STARTED, STOPPED = "new", "connected", "started", "stopped"


@dataclass(frozen=True, slots=True)
class Rejected:
    """A well-formed message that is wrong in this state; counted and skipped by the shell."""

    reason: str


class StreamState:
    """What one socket has seen: phase, the stream's identity, sequence gaps and late frames."""

    __slots__ = ("phase", "start", "stream_sid", "last_seq", "gaps", "late", "rejected")

    def __init__(self) -> None:
        self.phase = NEW
        self.start: Start | None = None
        self.stream_sid: str | None = None
        self.last_seq = 0
        self.gaps = 0  # messages Twilio numbered but we never saw
        self.late = 0  # messages that arrived out of order or twice
        self.rejected = 0

    def receive(self, msg: Message | Malformed) -> Message | Malformed | Rejected:
        """Return `msg` if it should be acted on, else a Malformed/Rejected to count and skip."""
        if isinstance(msg, Malformed):
            self.rejected += 1
            return msg
        verdict = self._check(msg)
        if verdict is not None:
            self.rejected += 1
            return verdict
        return msg

    def _check(self, msg: Message) -> Rejected | None:
        if isinstance(msg, Connected):
            if self.phase != NEW:
                return Rejected("second_connected")
            self.phase = CONNECTED
            return None
        if isinstance(msg, Start):
            if self.phase in (STARTED, STOPPED):
                return Rejected("second_start")
            self.phase, self.start, self.stream_sid = STARTED, msg, msg.stream_sid
            self.last_seq = msg.sequence
            return None
        if self.phase != STARTED:
            reason = "after_stop" if self.phase == STOPPED else "before_start"
            return Rejected(f"{type(msg).__name__.lower()}_{reason}")
        if msg.stream_sid != self.stream_sid:
            return Rejected("foreign_stream_sid")
        seq = msg.sequence
        if seq <= self.last_seq:
            self.late += 1
            return Rejected("late_sequence") if isinstance(msg, Media) else None
        self.gaps += seq - self.last_seq - 1
        self.last_seq = seq
        if isinstance(msg, Stop):
            self.phase = STOPPED
        return None


class StreamTable:
    """Owner of each (call_sid, kind) key: a newer claimant wins, the older one is fenced."""

    def __init__(self) -> None:
        self._owners: dict[tuple[str, str], Any] = {}

    def claim(self, key: tuple[str, str], owner: Any) -> Any | None:
        """Make `owner` current for `key`; return the displaced older owner, if any."""
        previous = self._owners.get(key)
        self._owners[key] = owner
        return previous if previous is not owner else None

    def release(self, key: tuple[str, str], owner: Any) -> bool:
        """Drop `owner` if it still holds `key` (a fenced owner releases nothing)."""
        if self._owners.get(key) is owner:
            del self._owners[key]
            return True
        return False

    def owner(self, key: tuple[str, str]) -> Any | None:
        """The current owner of `key`."""
        return self._owners.get(key)

    def owns(self, key: tuple[str, str], owner: Any) -> bool:
        """True while `owner` has not been displaced."""
        return self._owners.get(key) is owner

    def __len__(self) -> int:
        return len(self._owners)
