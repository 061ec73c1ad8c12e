"""The far end of a call: a simulated phone, or (for an `app:` participant) the conference."""
from __future__ import annotations


class PhoneParty:
    """The far end is a simulated phone."""

    def __init__(self, phone):
        self.phone = phone

    def emit(self) -> bytes:
        """What the phone says this tick."""
        return self.phone.next_frame()

    def hear(self, frame: bytes) -> None:
        """What the phone hears this tick."""
        self.phone.hear(frame)


class ConferenceParty:
    """The far end of an app: participant leg is the conference itself."""

    def __init__(self, room, call_sid: str):
        self.room, self.call_sid = room, call_sid

    def emit(self) -> bytes:
        """The conference mix this leg hears."""
        return self.room.heard(self.call_sid)

    def hear(self, frame: bytes) -> None:
        """What the TwiML side (e.g. the AI stream) says into the conference."""
        self.room.say(self.call_sid, frame)
