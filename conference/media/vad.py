"""Speech start/stop per human fork (webrtcvad with hysteresis), attributed to the fork's label."""
from __future__ import annotations

from dataclasses import dataclass

import webrtcvad

from agents.audio import ulaw_to_pcm16
from conference.media.tones import is_pure_tone

FRAME = 160  # 20 ms of 8 kHz mu-law


@dataclass(frozen=True, slots=True)
class SpeechEdge:
    """A speaker started (`started=True`) or stopped talking at `at_ms`."""

    speaker: str
    started: bool
    at_ms: float


class SpeechDetector:
    """Feed one fork's inbound audio; get an edge when its speaker starts or stops talking."""

    def __init__(self, speaker: str, aggressiveness: int = 3, start_frames: int = 3,
                 window: int = 5, hang_frames: int = 15) -> None:
        self.speaker = speaker
        self._vad = webrtcvad.Vad(aggressiveness)
        self.start_frames = start_frames  # voiced frames within `window` that start speech
        self.window = window
        self.hang_frames = hang_frames  # unvoiced frames in a row that end it
        self._recent = 0  # bitmask of the last `window` decisions
        self._quiet = 0
        self.speaking = False
        self._rest = b""

    def feed(self, ulaw: bytes, now_ms: float) -> SpeechEdge | None:
        """Process audio (any length); returns the edge it caused, if any."""
        data = self._rest + ulaw if self._rest else ulaw
        edge = None
        end = len(data) - len(data) % FRAME
        for offset in range(0, end, FRAME):
            edge = self._frame(data[offset:offset + FRAME], now_ms) or edge
        self._rest = data[end:]
        return edge

    def _frame(self, frame: bytes, now_ms: float) -> SpeechEdge | None:
        # A conference beep is a pure tone webrtcvad may call voiced: it never starts speech.
        voiced = self._vad.is_speech(ulaw_to_pcm16(frame), 8000) and not is_pure_tone(frame)
        mask = (1 << self.window) - 1
        self._recent = ((self._recent << 1) | int(voiced)) & mask
        if not self.speaking:
            if self._recent.bit_count() >= self.start_frames:
                self.speaking, self._quiet = True, 0
                return SpeechEdge(self.speaker, True, now_ms)
            return None
        self._quiet = 0 if voiced else self._quiet + 1
        if self._quiet >= self.hang_frames:
            self.speaking = False
            self._recent = 0
            return SpeechEdge(self.speaker, False, now_ms)
        return None
