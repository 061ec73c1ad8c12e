"""A simulated phone: silent unless scripted; it can speak, press keys, hang up and record.

Sans-I/O apart from speech synthesis (an `espeak-ng` subprocess, cached by text). The
conference tick calls `next_frame()` for what the phone says and `hear(frame)` for what it
hears, once per 20 ms; time is counted in those ticks, so it follows any simulator clock.
"""
from __future__ import annotations

import shutil
import subprocess
from collections import deque
from collections.abc import Callable
from functools import lru_cache

from twilio_sim.audio import FRAME_BYTES, FRAME_MS, SILENCE, read_wav_ulaw, tone_ulaw, wav_from_ulaw

DTMF_KEYS = frozenset("0123456789*#ABCD")
TICKS_PER_SECOND = 1000 // FRAME_MS


class SpeechUnavailable(RuntimeError):
    """espeak-ng is missing or failed."""


@lru_cache(maxsize=256)
def synthesize(text: str, voice: str = "en-us", wpm: int = 165) -> bytes:
    """Speak `text` offline with espeak-ng; returns 8 kHz μ-law (cached by arguments)."""
    if not text.strip():  # espeak-ng writes no WAV at all for it: nothing to say
        return b""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise SpeechUnavailable("espeak-ng is not installed")
    try:
        # Text goes through stdin so a leading '-' is never read as an option.
        result = subprocess.run([exe, "--stdin", "--stdout", "-v", voice, "-s", str(wpm)],
                                input=text.encode(), capture_output=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        raise SpeechUnavailable(f"espeak-ng failed: {exc}") from exc
    return read_wav_ulaw(result.stdout)


def speech_or_tone(text: str) -> bytes:
    """Synthesized speech, or (without espeak-ng) a 440 Hz tone of similar length."""
    try:
        return synthesize(text)
    except SpeechUnavailable:
        return tone_ulaw(440.0, min(10_000, 80 * max(1, len(text))))


class Phone:
    """One simulated handset."""

    def __init__(self, number: str = "", wall: Callable[[], float] | None = None) -> None:
        self.number = number
        self.wall = wall  # the simulator clock's Unix time, to stamp when a play starts
        self._outgoing: deque[bytes] = deque()  # queued frames to say
        self._said = 0  # scripted frames said so far
        self._play_starts: deque[int] = deque()  # value of _said at each queued play's start
        self.play_started_at: float | None = None  # clock time the last play's first frame went
        self._recording: list[bytes] | None = None
        # Clock time the recording's first frame was heard: frame k is heard 20 ms * k later.
        self.recording_started_at: float | None = None
        self._recorded: list[bytes] = []
        self._ticks = 0
        self._hangup_at: int | None = None  # tick number at which to hang up
        self.frames_heard = 0

    # What it says ---------------------------------------------------------------------------
    def next_frame(self) -> bytes:
        """Advance one tick; the 160-byte μ-law frame the phone says now (silence if idle)."""
        self._ticks += 1
        if not self._outgoing:
            return SILENCE
        if self._play_starts and self._play_starts[0] <= self._said:
            self._play_starts.popleft()
            self.play_started_at = self.wall() if self.wall is not None else None
        self._said += 1
        return self._outgoing.popleft()

    @property
    def speaking(self) -> bool:
        """True while scripted audio is still queued."""
        return bool(self._outgoing)

    def play_ulaw(self, ulaw: bytes) -> float:
        """Queue raw 8 kHz μ-law after what is already queued; returns its length in seconds."""
        if ulaw:
            self._play_starts.append(self._said + len(self._outgoing))
        for i in range(0, len(ulaw), FRAME_BYTES):
            frame = ulaw[i:i + FRAME_BYTES]
            self._outgoing.append(frame + SILENCE[len(frame):])
        return len(ulaw) / 8000.0

    def say_text(self, text: str) -> float:
        """Queue `text`, synthesized offline; returns its length in seconds."""
        return self.play_ulaw(synthesize(text))

    def play_wav(self, source) -> float:
        """Queue a WAV file (path, bytes or file object; any rate); returns seconds."""
        return self.play_ulaw(read_wav_ulaw(source))

    def play_tone(self, freq: float, ms: int, dbfs: float = -12.0) -> float:
        """Queue a sine tone; returns seconds."""
        return self.play_ulaw(tone_ulaw(freq, ms, dbfs))

    def stop_speaking(self) -> None:
        """Drop whatever is still queued."""
        self._outgoing.clear()
        self._play_starts.clear()

    def press(self, digits: str) -> list[str]:
        """Validate keys; returns the DTMF digits, in order, for the simulator to deliver."""
        bad = set(digits.upper()) - DTMF_KEYS
        if bad:
            raise ValueError(f"not DTMF keys: {''.join(sorted(bad))}")
        return list(digits.upper())

    # Hanging up -----------------------------------------------------------------------------
    def hangup_after(self, seconds: float) -> None:
        """Ask the phone to hang up once `seconds` of ticks have passed from now."""
        self._hangup_at = self._ticks + max(0, round(seconds * TICKS_PER_SECOND))

    @property
    def hangup_due(self) -> bool:
        """True once a scheduled hang-up time has been reached."""
        return self._hangup_at is not None and self._ticks >= self._hangup_at

    # What it hears --------------------------------------------------------------------------
    def hear(self, frame: bytes) -> None:
        """Receive one tick of what the phone hears (kept if recording)."""
        self.frames_heard += 1
        if self._recording is not None:
            if not self._recording:
                self.recording_started_at = self.wall() if self.wall is not None else None
            self._recording.append(frame)

    def start_recording(self) -> None:
        """Start (or restart) recording what the phone hears."""
        self._recording = []
        self.recording_started_at = None

    def stop_recording(self) -> None:
        """Stop recording; the recording stays available."""
        if self._recording is not None:
            self._recorded = self._recording
            self._recording = None

    @property
    def recording(self) -> bool:
        """True while recording."""
        return self._recording is not None

    def recording_ulaw(self) -> bytes:
        """Everything heard while recording (the live take if still recording)."""
        take = self._recording if self._recording is not None else self._recorded
        return b"".join(take)

    def recording_wav_bytes(self) -> bytes:
        """The recording as an 8 kHz PCM16 WAV file."""
        return wav_from_ulaw(self.recording_ulaw())
