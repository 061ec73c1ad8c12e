"""Conference beeps (pure tones) are never speech: no barge-in edge, no transcript audio."""
from __future__ import annotations

import math
import struct

import pytest
import webrtcvad
from media_harness import SILENCE, voice

from agents.audio import pcm16_to_ulaw, ulaw_to_pcm16
from conference.media.tones import is_pure_tone, silence_tones
from conference.media.vad import SpeechDetector


def beep(freq: float, ms: int = 300, dbfs: float = -16.0) -> bytes:
    """A sine as 8 kHz mu-law, like Twilio's join/leave beep (twiml/conference#beep)."""
    amp = 32767 * 10 ** (dbfs / 20)
    pcm = b"".join(struct.pack("<h", int(amp * math.sin(2 * math.pi * freq * n / 8000)))
                   for n in range(8 * ms))
    return pcm16_to_ulaw(pcm)


def frames(audio: bytes) -> list[bytes]:
    return [audio[i:i + 160] for i in range(0, len(audio) - 159, 160)]


@pytest.mark.parametrize("freq", [440.0, 880.0, 1000.0, 1400.0])
def test_beeps_are_pure_tones_and_speech_is_not(freq):
    assert all(is_pure_tone(f) for f in frames(beep(freq)))
    assert not any(is_pure_tone(voice(t)) for t in range(50))
    assert not is_pure_tone(SILENCE)


def test_webrtcvad_alone_would_call_a_beep_speech():
    """Why the tone check exists: without it the beep starts a barge-in."""
    vad = webrtcvad.Vad(3)
    assert any(vad.is_speech(ulaw_to_pcm16(f), 8000) for f in frames(beep(880.0)))


def test_a_beep_never_starts_speech_but_voice_after_it_does():
    det = SpeechDetector("customer")
    edges = [det.feed(f, i * 20) for i, f in enumerate(frames(beep(880.0) + beep(440.0)))]
    assert [e for e in edges if e] == []
    edges = [det.feed(voice(t), 1000 + t * 20) for t in range(10)]
    assert [e.started for e in edges if e] == [True]


def test_transcription_audio_has_beeps_silenced():
    audio = beep(880.0, 100) + b"".join(voice(t) for t in range(5))
    out = silence_tones(audio)
    assert out[:800] == SILENCE * 5 and out[800:] == audio[800:]
    speech_only = b"".join(voice(t) for t in range(5))
    assert silence_tones(speech_only) is speech_only
