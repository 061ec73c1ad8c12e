"""Sans-I/O analysis of the phones' recordings: per-frame levels, speech segments, offline STT."""
from __future__ import annotations

import io
import math
import wave
from dataclasses import dataclass

FRAME = 160  # samples per 20 ms frame at 8 kHz
FRAME_MS = 20
ACTIVE_DBFS = -45.0  # a frame louder than this is speech (the simulator's silence is digital 0)


@dataclass(frozen=True)
class Segment:
    """A run of active frames, in frame indexes [start, end)."""

    start: int
    end: int

    @property
    def start_s(self) -> float:
        """Start time in seconds."""
        return self.start * FRAME_MS / 1000

    @property
    def end_s(self) -> float:
        """End time in seconds."""
        return self.end * FRAME_MS / 1000


def wav_pcm(data: bytes) -> bytes:
    """The PCM16 samples of an 8 kHz mono PCM16 WAV (what the simulator serves)."""
    with wave.open(io.BytesIO(data)) as wav:
        if (wav.getframerate(), wav.getsampwidth(), wav.getnchannels()) != (8000, 2, 1):
            raise ValueError("expected 8 kHz PCM16 mono")
        return wav.readframes(wav.getnframes())


def frame_levels(pcm: bytes) -> list[float]:
    """RMS level in dBFS of each 20 ms frame."""
    from agents.audio import rms  # audioop: fast enough to poll a growing recording

    step = FRAME * 2
    levels = []
    for i in range(0, len(pcm) - step + 1, step):
        level = rms(pcm[i:i + step])
        levels.append(20 * math.log10(level / 32768.0) if level > 0 else -120.0)
    return levels


def segments(levels: list[float], start: int = 0, merge_gap_ms: int = 360,
             min_ms: int = 100) -> list[Segment]:
    """Active runs from frame `start` on; pauses shorter than `merge_gap_ms` join words."""
    runs: list[list[int]] = []
    for i in range(start, len(levels)):
        if levels[i] <= ACTIVE_DBFS:
            continue
        if runs and (i - runs[-1][1]) * FRAME_MS < merge_gap_ms:
            runs[-1][1] = i + 1
        else:
            runs.append([i, i + 1])
    return [Segment(a, b) for a, b in runs if (b - a) * FRAME_MS >= min_ms]


def loudest_dbfs(levels: list[float], start: int, end: int) -> float:
    """The loudest frame level in [start, end) (-120 when empty)."""
    window = levels[max(0, start):max(0, end)]
    return max(window, default=-120.0)


def reply_finished(levels: list[float], start: int, quiet_ms: int = 1200) -> Segment | None:
    """The reply heard from frame `start` on, once it is followed by `quiet_ms` of silence."""
    found = segments(levels, start)
    if not found:
        return None
    reply = Segment(found[0].start, found[-1].end)
    return reply if (len(levels) - reply.end) * FRAME_MS >= quiet_ms else None


def first_audio_ms(levels: list[float], start: int) -> int | None:
    """In a recording that hears both (the agent's): question end -> first AI audio, in ms."""
    found = segments(levels, start)
    return (found[1].start - found[0].end) * FRAME_MS if len(found) >= 2 else None


def transcribe(pcm: bytes, corpus: str) -> str:
    """Offline STT (the agents' pocketsphinx stage, biased to `corpus`) of 8 kHz PCM16."""
    from agents.pipeline.offline import SphinxSTT

    text, _final = next(iter(SphinxSTT(corpus).transcribe(pcm)))
    return text


def cut(pcm: bytes, seg: Segment, pad_frames: int = 10) -> bytes:
    """The samples of `seg`, padded with a little context on both sides."""
    start = max(0, seg.start - pad_frames) * FRAME * 2
    return pcm[start:(seg.end + pad_frames) * FRAME * 2]
