"""Sans-I/O confirmation of a `clear`: where the caller's playout really stopped.

Twilio applies a `clear` some time after it was sent (the outbound path's latency), and the
caller keeps hearing audio meanwhile. When it empties the buffer, Twilio sends back every
still-pending mark at once (twilio.com/docs/voice/media-streams/websocket-messages, `clear`
message; twilio_sim/playout.py models the same).
So the first echo after the clear whose mark had not played yet is the moment the
clear was applied: heard = the playout position reached then (the last truly played mark plus
the time since), not the flushed mark's end. Echoes of marks that did play before the clear
arrived keep advancing that position. No echo within the timeout: today's estimate stands.
"""
from __future__ import annotations

from collections import deque

from conference.media.playout import ECHO_SLACK, PER_MS, Item, PlayoutTracker, Truncation, advance

CONFIRM_TIMEOUT_MS = 500  # the pending marks' echo never came: settle for the estimate


class ClearWatch:
    """The old generation's marks and timeline, kept after `clear` until Twilio confirms it."""

    def __init__(self, tracker: PlayoutTracker, item: Item, now_ms: float, timeout_ms: float):
        self.gen = f"g{tracker.gen}"
        self.marks = deque((seq, pos) for seq, pos, _ in tracker.marks)
        self.segments = list(tracker.segments)
        self.anchor = tracker.anchor
        self.end = tracker.sent  # nothing past what was sent can have played
        self.item = item
        self.deadline = now_ms + timeout_ms
        self.fallback: Truncation | None = None  # the estimate at the barge-in decision

    @classmethod
    def begin(cls, tracker: PlayoutTracker, now_ms: float,
              timeout_ms: float = CONFIRM_TIMEOUT_MS) -> ClearWatch | None:
        """Snapshot before `tracker.clear()`; None when no mark is pending (nothing to confirm)."""
        item = tracker.playing_item(now_ms)
        if not tracker.marks or item is None or item.start < 0:
            return None
        return cls(tracker, item, now_ms, timeout_ms)

    def on_mark(self, name: str, now_ms: float) -> Truncation | None:
        """An old-generation echo: the final truncation once the clear is confirmed, else None."""
        gen, _, seq = name.partition("-s")
        if gen != self.gen or not seq.isdigit() or not self.marks:
            return None
        seq_n, marks = int(seq), self.marks
        if not marks[0][0] <= seq_n <= marks[-1][0]:
            return None
        pos = marks[0][1]
        while marks and marks[0][0] <= seq_n:
            pos = marks.popleft()[1]
        estimate = advance(self.anchor, self.segments, now_ms)
        if pos > estimate:  # still unplayed: flushed, so the clear was applied just now
            return self._final(estimate)
        # It did play before the clear arrived: a lower bound, as PlayoutTracker._ack.
        self.anchor = (min(max(pos, estimate), pos + ECHO_SLACK), now_ms)
        return self._final(advance(self.anchor, self.segments, now_ms)) if not marks else None

    def expired(self, now_ms: float) -> Truncation | None:
        """The fallback estimate once the confirmation is overdue, else None."""
        return self.fallback if now_ms >= self.deadline else None

    def _final(self, position: int) -> Truncation:
        item, fallback = self.item, self.fallback
        assert fallback is not None
        self.marks.clear()  # settled once: the rest of the flushed burst changes nothing
        heard = min(max(min(position, self.end) - item.start, item.acked, 0),
                    item.sent, item.generated) // PER_MS
        # The caller heard at least what the estimate at the decision said.
        heard = max(heard, fallback.heard_ms)
        flushed = max(0, fallback.flushed_ms - (heard - fallback.heard_ms))
        return Truncation(fallback.item_id, heard, flushed)
