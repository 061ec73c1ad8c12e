"""Codec, tone, WAV and level helpers of the simulator."""
from __future__ import annotations

import io
import wave

import pytest
from hypothesis import given
from hypothesis import strategies as st

from twilio_sim import audio


def test_silence_frame_decodes_to_zero():
    assert len(audio.SILENCE) == audio.FRAME_BYTES == 160
    assert set(audio.ulaw_to_pcm(audio.SILENCE)) == {0}
    assert audio.ulaw_dbfs(audio.SILENCE) == audio.FLOOR_DBFS


@given(st.binary(min_size=1, max_size=400))
def test_ulaw_decode_encode_is_stable(ulaw):
    # Decoding then re-encoding gives back the same codes (0x7F and 0xFF are both zero).
    again = audio.pcm_to_ulaw(audio.ulaw_to_pcm(ulaw))
    norm = lambda b: bytes(0xFF if x == 0x7F else x for x in b)  # noqa: E731
    assert norm(again) == norm(ulaw)


@pytest.mark.parametrize("dbfs", [-3.0, -20.0, -40.0])
def test_tone_level_matches_requested_level(dbfs):
    pcm = audio.tone_pcm(1000, 500, dbfs)
    assert audio.tone_level_dbfs(pcm, 1000) == pytest.approx(dbfs, abs=0.2)
    # Through the μ-law codec the level survives within quantisation error.
    coded = audio.ulaw_to_pcm(audio.tone_ulaw(1000, 500, dbfs))
    assert audio.tone_level_dbfs(coded, 1000) == pytest.approx(dbfs, abs=0.6)


def test_tone_level_rejects_other_frequencies():
    pcm = audio.tone_pcm(440, 500, -6.0)
    assert audio.tone_level_dbfs(pcm, 1000) < -60


def test_rms_of_full_scale_sine_is_minus_three():
    assert audio.rms_dbfs(audio.tone_pcm(1000, 200, 0.0)) == pytest.approx(-3.01, abs=0.05)


def test_windowed_tone_level_finds_a_short_tone_in_a_long_recording():
    quiet = audio.ulaw_to_pcm(audio.silence_ulaw(5000))
    pcm = quiet + audio.tone_pcm(1000, 200, -20.0) + quiet
    assert audio.tone_level_dbfs(pcm, 1000, window_ms=100) == pytest.approx(-20.0, abs=0.5)
    assert audio.tone_level_dbfs(pcm, 1000) < -35  # averaged over 10 s it fades


def test_split_frames_pads_last_frame_with_silence():
    frames = audio.split_frames(b"\x01" * 330)
    assert [len(f) for f in frames] == [160, 160, 160]
    assert frames[2] == b"\x01" * 10 + b"\xff" * 150
    assert audio.split_frames(b"") == []


def test_pcm_wav_round_trip_is_readable_by_wave_module():
    ulaw = audio.tone_ulaw(700, 300)
    data = audio.wav_from_ulaw(ulaw)
    with wave.open(io.BytesIO(data)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 8000)
        assert w.getnframes() == len(ulaw)
    assert audio.read_wav_ulaw(data) == ulaw


def test_ulaw_wav_round_trip():
    ulaw = audio.tone_ulaw(700, 300)
    data = audio.wav_from_ulaw(ulaw, as_pcm=False)
    assert data[20:22] == b"\x07\x00"  # WAVE_FORMAT_MULAW
    assert audio.read_wav_ulaw(io.BytesIO(data)) == ulaw


def write_wav(path, frames: bytes, channels: int, width: int, rate: int):
    """A WAV file written by the standard library's wave module (not the code under test)."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(frames)
    return path


def test_wav_at_other_rate_and_stereo_is_resampled(tmp_path):
    pcm16k = audio.tone_pcm(1000, 500, -10.0, rate=16000)
    stereo = audio.audioop.tostereo(pcm16k, 2, 1, 1)
    path = write_wav(tmp_path / "stereo16k.wav", stereo, channels=2, width=2, rate=16000)
    ulaw = audio.read_wav_ulaw(str(path))
    assert len(ulaw) == pytest.approx(4000, abs=2)
    assert audio.tone_level_dbfs(audio.ulaw_to_pcm(ulaw), 1000) == pytest.approx(-10.0, abs=0.7)


@pytest.mark.parametrize("data", [b"", b"not a wav", b"RIFF\x04\x00\x00\x00WAVE"])
def test_bad_wav_raises_value_error(data):
    with pytest.raises(ValueError):
        audio.read_wav_ulaw(data)


def test_8bit_unsigned_pcm_wav_is_read(tmp_path):
    pcm16 = audio.tone_pcm(500, 200, -6.0)
    unsigned8 = audio.audioop.bias(audio.audioop.lin2lin(pcm16, 2, 1), 1, 128)
    path = write_wav(tmp_path / "u8.wav", unsigned8, channels=1, width=1, rate=8000)
    ulaw = audio.read_wav_ulaw(str(path))
    assert len(ulaw) == 1600
    assert audio.tone_level_dbfs(audio.ulaw_to_pcm(ulaw), 500) == pytest.approx(-6.0, abs=1.0)
