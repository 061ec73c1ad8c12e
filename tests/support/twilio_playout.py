"""Sans-I/O emulation of Twilio's playout of the AI leg, on a simulated clock (no sockets).

Media reaches Twilio `one_way_ms` after it is sent and plays in real time; a gap with nothing
buffered is silence (lost playout time, counted in `starved_ms`). A mark is echoed once the
audio before it has played and reaches the tracker `one_way_ms` later, as bench/_confclients.py
AiLegClient does against a real socket.
"""
from __future__ import annotations

from conference.media.playout import FRAME, PER_MS, PlayoutTracker


class TwilioPlayout:
    """Feeds `tracker` one 20 ms frame per tick (an echo backend) and plays what it sends."""

    def __init__(self, tracker: PlayoutTracker, one_way_ms: float) -> None:
        self.tracker, self.one_way = tracker, one_way_ms
        self.playout_end: float | None = None  # when Twilio's buffer runs dry
        self.starved_ms = 0.0
        self.echoes: list[tuple[float, str]] = []  # (arrival at the tracker, mark name)
        self.max_unacked = 0

    def run(self, seconds: float) -> float:
        """Tick every 20 ms: deliver echoes, push a frame, send what is allowed; the last tick."""
        for k in range(int(seconds * 50)):
            now = k * 20.0
            self.echoes.sort()
            while self.echoes and self.echoes[0][0] <= now:
                at, name = self.echoes.pop(0)
                self.tracker.on_mark(name, at)
                self._send(at)
            self.tracker.push("echo-1", bytes(FRAME))
            self._send(now)
        return now

    def _send(self, now: float) -> None:
        tracker = self.tracker
        for kind, payload in tracker.pull(now):
            arrives = now + self.one_way
            if kind == "media":
                end = self.playout_end
                if end is not None and end < arrives:
                    self.starved_ms += arrives - end
                self.playout_end = max(end or arrives, arrives) + len(payload) / PER_MS
            else:
                self.echoes.append((max(self.playout_end or arrives, arrives) + self.one_way,
                                    str(payload)))
        self.max_unacked = max(self.max_unacked, tracker.sent - tracker.acked)

    def lost_ms(self, now: float) -> float:
        """Silence Twilio played up to `now`: gaps between audio, and the current one."""
        end = self.playout_end
        return self.starved_ms + (max(0.0, now - end) if end is not None else now)

    def pending_ms(self) -> float:
        """AI output the tracker still holds, unsent."""
        return sum(len(d) for _, d in self.tracker.pending) / PER_MS
