"""Sans-I/O endpointing: webrtcvad decides where caller utterances start and end."""
from __future__ import annotations

from dataclasses import dataclass

import webrtcvad

from agents.audio import ULAW_RATE, ulaw_to_pcm16

FRAME_MS = 20
FRAME_BYTES = ULAW_RATE * FRAME_MS // 1000  # mu-law bytes per frame


@dataclass(frozen=True, slots=True)
class SpeechBegan:
    """Speech started at `ms` (stream position)."""

    ms: int


@dataclass(frozen=True, slots=True)
class SpeechEnded:
    """An utterance ended: its PCM16 (pre-roll included) and bounds in stream ms."""

    pcm: bytes
    start_ms: int
    end_ms: int
    rest: bytes = b""  # the part not yet handed out by take_speech()


class Endpointer:
    """Feeds 8 kHz mu-law in any sizes and reports utterance boundaries, by audio time only."""

    # Every transcribed fork holds one: slots, and its audio (pre-roll and the utterance so
    # far) kept as mu-law, half of PCM16, decoded only when it is handed out.
    __slots__ = ("_vad", "_start_frames", "_end_frames", "_max_frames", "_preroll", "_recent",
                 "_voiced", "_buffer", "_speech", "_taken", "_silent", "_start_ms",
                 "position_ms", "in_speech", "last_voiced_ms")

    def __init__(
        self,
        aggressiveness: int = 2,
        start_frames: int = 3,
        silence_ms: int = 500,
        preroll_ms: int = 200,
        max_ms: int = 15000,
    ) -> None:
        self._vad = webrtcvad.Vad(aggressiveness)
        self._start_frames = start_frames
        self._end_frames = silence_ms // FRAME_MS
        self._max_frames = max_ms // FRAME_MS
        self._preroll = max(preroll_ms // FRAME_MS, 5) * FRAME_BYTES
        self._recent = bytearray()  # mu-law of the last frames outside speech (the pre-roll)
        self._voiced = 0  # their last `start_frames` VAD decisions, one bit each
        self._buffer = b""
        self._speech = bytearray()  # mu-law of the current utterance, pre-roll included
        self._taken = 0  # its frames handed out by take_speech()
        self._silent = 0
        self._start_ms = 0
        self.position_ms = 0
        self.in_speech = False
        self.last_voiced_ms = 0

    def feed(self, ulaw: bytes) -> list[SpeechBegan | SpeechEnded]:
        """Consume audio; return the boundaries it completes."""
        self._buffer += ulaw
        events: list[SpeechBegan | SpeechEnded] = []
        while len(self._buffer) >= FRAME_BYTES:
            frame, self._buffer = self._buffer[:FRAME_BYTES], self._buffer[FRAME_BYTES:]
            event = self._frame(frame)
            if event is not None:
                events.append(event)
        return events

    def _frame(self, ulaw: bytes) -> SpeechBegan | SpeechEnded | None:
        voiced = self._vad.is_speech(ulaw_to_pcm16(ulaw), ULAW_RATE)
        self.position_ms += FRAME_MS
        if voiced:
            self.last_voiced_ms = self.position_ms
        if not self.in_speech:
            self._recent += ulaw
            if len(self._recent) > self._preroll:
                del self._recent[:FRAME_BYTES]
            self._voiced = (self._voiced << 1 | voiced) & ((1 << self._start_frames) - 1)
            if self._voiced.bit_count() < self._start_frames:
                return None
            self.in_speech, self._silent, self._voiced = True, 0, 0
            self._speech, self._recent = self._recent, bytearray()
            self._start_ms = self.position_ms - FRAME_MS * self._frames()
            return SpeechBegan(self._start_ms)
        self._speech += ulaw
        self._silent = 0 if voiced else self._silent + 1
        if self._silent >= self._end_frames or self._frames() >= self._max_frames:
            return self._finish()
        return None

    def _frames(self) -> int:
        return len(self._speech) // FRAME_BYTES

    def _pcm(self, first: int, end: int) -> bytes:
        """PCM16 of the utterance's frames [first, end) (mu-law decodes sample by sample)."""
        # A view, not a copy (it is gone before the buffer grows again).
        return ulaw_to_pcm16(memoryview(self._speech)[first * FRAME_BYTES : end * FRAME_BYTES])

    def take_speech(self) -> bytes:
        """PCM16 of the current utterance not handed out yet (pre-roll included), for STT
        that decodes while the caller is still talking; b"" outside speech."""
        if not self.in_speech:
            return b""
        out = self._pcm(self._taken, self._frames())
        self._taken = self._frames()
        return out

    def flush(self) -> SpeechEnded | None:
        """End an utterance still in progress (the stream stopped mid-speech)."""
        return self._finish() if self.in_speech else None

    def _finish(self) -> SpeechEnded:
        # Drop most of the trailing silence; keep 100 ms so the recognizer sees the word end.
        keep = self._frames() - max(self._silent - 5, 0)
        pcm = self._pcm(0, keep)
        rest = pcm if self._taken == 0 else self._pcm(self._taken, keep)  # no second copy
        self.in_speech, self._speech, self._silent, self._taken = False, bytearray(), 0, 0
        return SpeechEnded(pcm, self._start_ms, self.last_voiced_ms, rest)
