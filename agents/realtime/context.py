"""What a fresh Realtime server session needs after a reconnect: recent turns and unanswered audio.

Both are plain state, fed by the protocol core; positions are in ms of the server session's
input buffer (8 bytes of mu-law per ms).
"""
from __future__ import annotations

from collections import OrderedDict, deque

ULAW_BYTES_PER_MS = 8


class ReplayRing:
    """Inbound audio sent to the model but not answered yet, bounded to `max_ms`."""

    def __init__(self, max_ms: int) -> None:
        self._max = max_ms * ULAW_BYTES_PER_MS
        self._ring = bytearray()
        self._start_ms = 0  # server-session input position of _ring[0]
        self._answered_to: int | None = None

    def add(self, ulaw: bytes) -> None:
        """Remember audio just sent to the model."""
        self._ring += ulaw
        overflow = len(self._ring) - self._max
        if overflow > 0:
            del self._ring[:overflow]
            self._start_ms += overflow // ULAW_BYTES_PER_MS

    def speech_ended(self, audio_end_ms: int | None) -> None:
        """The server's VAD closed a turn at `audio_end_ms`; forgotten once it is answered."""
        self._answered_to = audio_end_ms

    def answered(self) -> None:
        """A response completed: audio up to the last closed turn needs no replay."""
        if self._answered_to is None:
            return
        cut = (self._answered_to - self._start_ms) * ULAW_BYTES_PER_MS
        if cut > 0:
            del self._ring[:cut]
            self._start_ms = self._answered_to
        self._answered_to = None

    def take(self) -> bytes:
        """Everything unanswered, emptying the ring for a new server session (position 0)."""
        audio = bytes(self._ring)
        self._ring.clear()
        self._start_ms, self._answered_to = 0, None
        return audio


class TurnLog:
    """The last few final transcript turns, with AI turns cut to what the caller heard."""

    def __init__(self, max_turns: int = 8) -> None:
        self._turns: deque[list] = deque(maxlen=max_turns)  # [speaker, text, item_id]
        self._partial: OrderedDict[str, str] = OrderedDict()  # AI text still streaming
        self._cut: set[str] = set()

    def __iter__(self):
        return ((speaker, text) for speaker, text, _ in self._turns)

    def caller(self, text: str, item_id: str | None) -> None:
        """A final caller utterance."""
        self._turns.append(["caller", text, item_id])

    def ai_delta(self, item_id: str, delta: str) -> None:
        """More of what the AI is saying in `item_id`."""
        self._partial[item_id] = self._partial.get(item_id, "") + delta
        while len(self._partial) > 8:
            self._partial.popitem(last=False)

    def ai_done(self, item_id: str | None, text: str) -> None:
        """The AI's full text for `item_id` (ignored if it was already cut by a barge-in)."""
        self._partial.pop(item_id or "", None)
        if item_id not in self._cut:
            self._turns.append(["ai", text, item_id])

    def heard(self, item_id: str, fraction: float) -> None:
        """The caller heard only `fraction` of AI item `item_id`: keep that share of words."""
        turn = next((t for t in reversed(self._turns) if t[2] == item_id), None)
        text = turn[1] if turn else self._partial.pop(item_id, "")
        words = text.split()
        kept = " ".join(words[:int(len(words) * max(0.0, min(1.0, fraction)))])
        self._cut.add(item_id)
        if turn is not None:
            turn[1] = kept + " …" if kept else ""
        elif kept:
            self._turns.append(["ai", kept + " …", item_id])
        if turn is not None and not kept:
            self._turns.remove(turn)
