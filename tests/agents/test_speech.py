"""Offline TTS helper: real espeak-ng output as 8 kHz mu-law."""
from __future__ import annotations

import pytest

from agents import audio, speech

pytestmark = pytest.mark.skipif(not speech.available(), reason="espeak-ng not installed")


def test_synthesize_ulaw_is_audible_speech_of_plausible_length():
    ulaw = speech.synthesize_ulaw("We are open from nine to five.")
    assert 800 < audio.ulaw_ms(ulaw) < 5000
    assert audio.rms(audio.ulaw_to_pcm16(ulaw)) > 500


def test_stream_yields_several_chunks_and_stops_early():
    chunks = speech.stream_ulaw("one two three four five six seven eight nine ten")
    first = next(chunks)
    assert first
    chunks.close()  # a barge-in abandons the sentence; the espeak process is reaped


def test_apology_is_cached_speech():
    assert speech.apology_ulaw() is speech.apology_ulaw()
    assert audio.ulaw_ms(speech.apology_ulaw()) > 1000


def test_text_starting_with_dash_is_spoken_not_parsed():
    assert audio.ulaw_ms(speech.synthesize_ulaw("-v is not an option here")) > 500
