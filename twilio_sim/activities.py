"""What a call's TwiML is doing right now, one 20 ms step at a time."""
from __future__ import annotations

from gevent.event import Event

from .audio import FRAME_BYTES, SILENCE, split_frames


class Activity:
    """A blocking verb: step() once per tick until `done` is set."""

    def __init__(self) -> None:
        self.done = Event()

    def step(self, up: bytes) -> bytes:
        """Take what the party said; return what the party hears."""
        return SILENCE

    def cancel(self) -> None:
        """End the activity now."""
        self.done.set()


class PlayActivity(Activity):
    """<Say>/<Play>: audio to the party, `loop` times (0 means until interrupted)."""

    def __init__(self, ulaw: bytes, loop: int = 1) -> None:
        super().__init__()
        self.frames = split_frames(ulaw) or [SILENCE]
        self.remaining = len(self.frames) * (loop if loop > 0 else 10**9)
        self.index = 0

    def step(self, up: bytes) -> bytes:
        """Next frame of the audio."""
        if self.remaining <= 0:
            self.done.set()
            return SILENCE
        frame = self.frames[self.index % len(self.frames)]
        self.index += 1
        self.remaining -= 1
        if self.remaining == 0:
            self.done.set()
        return frame


class PauseActivity(Activity):
    """<Pause length>: silence for a number of ticks."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.ticks = round(seconds * 50)
        if self.ticks <= 0:
            self.done.set()

    def step(self, up: bytes) -> bytes:
        """One tick of silence."""
        self.ticks -= 1
        if self.ticks <= 0:
            self.done.set()
        return SILENCE


class ConferenceActivity(Activity):
    """In a conference: our party's voice goes in, the mix for us comes out."""

    def __init__(self, room, call_sid: str) -> None:
        super().__init__()
        self.room, self.call_sid = room, call_sid
        self.leave_reason: str | None = None

    def left(self, reason: str) -> None:
        """Room callback: we are out of the conference."""
        self.leave_reason = reason
        self.done.set()

    def step(self, up: bytes) -> bytes:
        """Say `up` into the room; hear the last mix."""
        self.room.say(self.call_sid, up)
        return self.room.heard(self.call_sid)


class StreamActivity(Activity):
    """<Connect><Stream>: the party's voice to the app, the app's playout to the party."""

    def __init__(self, port) -> None:
        super().__init__()
        self.port = port
        self.took = False  # the last tick's inbound frame was queued on the socket
        port.on_closed(self.done.set)

    def step(self, up: bytes) -> bytes:
        """Send inbound audio; play one frame of the app's buffer."""
        self.took = self.port.send_inbound(up)
        frame = self.port.playout_frame()
        return frame if len(frame) == FRAME_BYTES else (frame + SILENCE)[:FRAME_BYTES]
