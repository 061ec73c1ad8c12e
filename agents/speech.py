"""Offline text-to-speech with espeak-ng, delivered as 8 kHz mu-law (usable by any component)."""
from __future__ import annotations

import functools
import shutil
import struct
from collections.abc import Iterator

from agents.audio import UlawEncoder
from agents.base import AgentError
from agents.spawn import SpawnedReader

APOLOGY_TEXT = "Sorry, one moment please."
DEFAULT_VOICE = "en-us"
DEFAULT_SPEED = 160  # words per minute; espeak's default 175 is hard to follow on a phone line
HEADER_BYTES = 44  # espeak-ng --stdout writes one canonical PCM WAV header, then streams samples
READ_BYTES = 4410  # ~100 ms at espeak's 22.05 kHz


def available() -> bool:
    """True when the espeak-ng binary is on PATH."""
    return shutil.which("espeak-ng") is not None


def _parse_header(header: bytes) -> int:
    if len(header) < HEADER_BYTES or header[:4] != b"RIFF" or header[36:40] != b"data":
        raise AgentError("tts_failed", "espeak-ng produced no WAV header")
    channels, rate, _, _, bits = struct.unpack("<HIIHH", header[22:36])
    if channels != 1 or bits != 16:
        raise AgentError("tts_failed", "espeak-ng output is not 16-bit mono")
    return rate


def stream_ulaw(
    text: str, voice: str = DEFAULT_VOICE, speed: int = DEFAULT_SPEED
) -> Iterator[bytes]:
    """Yield 8 kHz mu-law chunks of `text` as espeak-ng produces them; AgentError on failure."""
    if not available():
        raise AgentError("tts_unavailable", "espeak-ng is not installed")
    # "--" ends options so text starting with "-" is spoken, not parsed.
    args = ["espeak-ng", "--stdout", "-v", voice, "-s", str(speed), "--", text]
    # posix_spawn, not Popen: gevent's Popen forks the whole worker on the hub (agents.spawn).
    proc = SpawnedReader(args)
    try:
        encoder = UlawEncoder(_parse_header(proc.read_exactly(HEADER_BYTES)))
        while chunk := proc.read(READ_BYTES):
            out = encoder.process(chunk)
            if out:
                yield out
    finally:
        proc.close()  # kills it if the consumer stopped early (barge-in)


def synthesize_ulaw(text: str, voice: str = DEFAULT_VOICE, speed: int = DEFAULT_SPEED) -> bytes:
    """All of `text` as 8 kHz mu-law; AgentError when espeak-ng is missing or fails."""
    return b"".join(stream_ulaw(text, voice, speed))


@functools.cache
def apology_ulaw() -> bytes:
    """A short spoken apology (cached) to play when a backend fails; b"" without espeak-ng."""
    try:
        return synthesize_ulaw(APOLOGY_TEXT)
    except AgentError:
        return b""
