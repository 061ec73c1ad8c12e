"""Deterministic stand-ins for Twilio's conference sounds: hold music and join/leave beeps.

Twilio's real hold music (the "classical" playlist) and beep are recordings we do not have; these
are synthetic, non-speech and identical on every run (UNVERIFIED: level and length).
"""
from __future__ import annotations

from functools import cache

from .audio import FRAME_BYTES, SILENCE, audioop, split_frames, tone_ulaw, ulaw_to_pcm

HOLD_MUSIC_NOTES = (392.0, 494.0, 587.0, 494.0)  # G4 B4 D5 B4, 500 ms each, looped
HOLD_MUSIC_DBFS = -22.0
BEEP_ENTER_HZ, BEEP_EXIT_HZ = 880.0, 440.0
BEEP_MS, BEEP_DBFS = 300, -16.0


@cache
def hold_music_frames() -> tuple[bytes, ...]:
    """One loop of hold music as 20 ms μ-law frames."""
    audio = b"".join(tone_ulaw(f, 500, HOLD_MUSIC_DBFS) for f in HOLD_MUSIC_NOTES)
    return tuple(split_frames(audio))


@cache
def beep_frames(entering: bool) -> tuple[bytes, ...]:
    """A join (high) or leave (low) beep as 20 ms μ-law frames."""
    freq = BEEP_ENTER_HZ if entering else BEEP_EXIT_HZ
    return tuple(split_frames(tone_ulaw(freq, BEEP_MS, BEEP_DBFS)))


def overlay(a: bytes, b: bytes) -> bytes:
    """Two μ-law frames heard together (16-bit sum, clipped)."""
    if a == SILENCE:
        return b
    if b == SILENCE:
        return a
    pcm = audioop.add(ulaw_to_pcm(a[:FRAME_BYTES]), ulaw_to_pcm(b[:FRAME_BYTES]), 2)
    return audioop.lin2ulaw(pcm, 2)
