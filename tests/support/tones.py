"""Tone signatures in recordings: per-frame level at one frequency (Hann-windowed Goertzel),
and WAV files of a tone (Chromium's fake microphone reads one)."""
from __future__ import annotations

import io
import math
import wave
from array import array
from pathlib import Path

FRAME = 160  # samples per 20 ms at 8 kHz


def tone_levels(wav_bytes: bytes, freq: float) -> list[float]:
    """dBFS (of a sine's peak) at `freq` in each 20 ms frame of an 8 kHz 16-bit WAV."""
    with wave.open(io.BytesIO(wav_bytes)) as wav:
        rate = wav.getframerate()
        samples = array("h", wav.readframes(wav.getnframes()))
    frame = rate // 50
    hann = [0.5 - 0.5 * math.cos(2 * math.pi * i / (frame - 1)) for i in range(frame)]
    coeff = 2 * math.cos(2 * math.pi * freq / rate)
    levels = []
    for start in range(0, len(samples) - frame + 1, frame):
        s1 = s2 = 0.0
        for x, w in zip(samples[start:start + frame], hann, strict=True):
            s1, s2 = x * w + coeff * s1 - s2, s1
        power = max(s1 * s1 + s2 * s2 - coeff * s1 * s2, 0.0)
        peak = 4 * math.sqrt(power) / frame  # 2|X|/N over the Hann window's gain of 1/2
        levels.append(20 * math.log10(peak / 32768) if peak > 0 else -120.0)
    return levels


def write_tone_wav(path: Path, freq: float, seconds: float, dbfs: float = -6.0,
                   rate: int = 48000, bursts: tuple[float, float] | None = None) -> Path:
    """A mono 16-bit WAV of a steady tone, or of `bursts` (seconds on, every seconds) of it
    with silence between."""
    amplitude = 32767 * 10 ** (dbfs / 20)
    on, period = (int(bursts[0] * rate), int(bursts[1] * rate)) if bursts else (1, 1)
    samples = array("h", (int(amplitude * math.sin(2 * math.pi * freq * n / rate))
                          if n % period < on else 0 for n in range(int(seconds * rate))))
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples.tobytes())
    return path
