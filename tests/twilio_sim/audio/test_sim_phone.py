"""Simulated phone: silent by default, scripted speech/tones/WAVs, DTMF, hang-up, recording."""
from __future__ import annotations

import io
import wave

import pytest

from twilio_sim import audio
from twilio_sim.fixtures import PHRASES, fixture_path
from twilio_sim.phone import Phone, synthesize


def drain(phone: Phone) -> bytes:
    frames = []
    while phone.speaking:
        frames.append(phone.next_frame())
    return b"".join(frames)


def test_phone_is_silent_by_default():
    phone = Phone("+15550001111")
    assert all(phone.next_frame() == audio.SILENCE for _ in range(10))
    assert not phone.speaking and not phone.hangup_due


def test_say_text_produces_audible_speech_frames():
    phone = Phone()
    seconds = phone.say_text("What are your opening hours?")
    assert 1.0 < seconds < 4.0
    said = drain(phone)
    assert len(said) % 160 == 0 and len(said) >= seconds * 8000
    levels = [audio.ulaw_dbfs(f) for f in audio.split_frames(said)]
    assert max(levels) > -20  # loud speech somewhere
    assert sum(level > -40 for level in levels) > len(levels) // 3  # and a lot of it
    assert phone.next_frame() == audio.SILENCE  # back to silence afterwards


def test_synthesis_is_cached_by_text():
    assert synthesize("cache me") is synthesize("cache me")


def test_play_tone_then_wav_keeps_order():
    phone = Phone()
    phone.play_tone(1000, 100, -10)
    phone.play_wav(str(fixture_path("hello")))
    said = drain(phone)
    tone, rest = audio.ulaw_to_pcm(said[:800]), audio.ulaw_to_pcm(said[800:])
    assert audio.tone_level_dbfs(tone, 1000) == pytest.approx(-10, abs=1)
    assert audio.rms_dbfs(rest) > -40


@pytest.mark.parametrize("name", sorted(PHRASES))
def test_fixtures_are_short_8khz_speech(name):
    with open(fixture_path(name), "rb") as f:
        data = f.read()
    assert data[20:22] == b"\x07\x00" and data[24:28] == (8000).to_bytes(4, "little")
    ulaw = audio.read_wav_ulaw(data)
    assert 0.4 < len(ulaw) / 8000 < 4.0
    assert audio.ulaw_dbfs(ulaw) > -40


def test_press_returns_digits_and_rejects_other_keys():
    phone = Phone()
    assert phone.press("12*#a") == ["1", "2", "*", "#", "A"]
    with pytest.raises(ValueError):
        phone.press("1x")


def test_hangup_after_counts_ticks():
    phone = Phone()
    phone.next_frame()
    phone.hangup_after(0.1)  # five 20 ms ticks
    states = []
    for _ in range(6):
        phone.next_frame()
        states.append(phone.hangup_due)
    assert states == [False, False, False, False, True, True]


def test_recording_keeps_only_what_is_heard_while_on():
    phone = Phone()
    tone = audio.tone_ulaw(1000, 20, -6)
    phone.hear(tone)  # before recording: not kept
    phone.start_recording()
    for _ in range(25):
        phone.hear(tone)
    phone.hear(audio.SILENCE)
    assert len(phone.recording_ulaw()) == 26 * 160  # live take
    phone.stop_recording()
    phone.hear(tone)  # after: not kept
    assert phone.frames_heard == 28
    data = phone.recording_wav_bytes()
    with wave.open(io.BytesIO(data)) as w:
        assert w.getframerate() == 8000 and w.getnframes() == 26 * 160
        pcm = w.readframes(w.getnframes())
    assert audio.tone_level_dbfs(pcm[: 25 * 320], 1000) == pytest.approx(-6, abs=1)


def test_speech_falls_back_to_a_tone_without_espeak(monkeypatch):
    from twilio_sim import phone as phone_mod

    monkeypatch.setattr(phone_mod.shutil, "which", lambda name: None)
    text = "no synthesizer available for this sentence"
    with pytest.raises(phone_mod.SpeechUnavailable):
        phone_mod.synthesize(text)
    ulaw = phone_mod.speech_or_tone(text)
    assert audio.tone_level_dbfs(audio.ulaw_to_pcm(ulaw), 440) > -20


def test_a_play_is_stamped_with_the_clock_time_of_its_first_frame():
    now = [100]  # clock ticks of 20 ms, as integers: the stamps compare exactly
    phone = Phone("+15550000001", wall=lambda: now[0])
    phone.play_ulaw(b"\x01" * 320)  # two frames
    phone.play_ulaw(b"\x02" * 160)  # queued behind them
    assert phone.play_started_at is None  # queued, not said yet
    said = []
    for _ in range(4):
        now[0] += 1
        said.append((phone.next_frame()[:1], phone.play_started_at))
    assert said == [(b"\x01", 101), (b"\x01", 101), (b"\x02", 103), (audio.SILENCE[:1], 103)]
    phone.play_ulaw(b"\x03" * 160)
    phone.stop_speaking()  # a dropped play never starts
    phone.play_ulaw(b"\x04" * 160)
    now[0] = 200
    assert phone.next_frame()[:1] == b"\x04" and phone.play_started_at == 200


def test_recording_start_is_stamped_when_its_first_frame_is_heard():
    now = [50.0]
    phone = Phone("+15550000001", wall=lambda: now[0])
    phone.start_recording()
    assert phone.recording_started_at is None  # nothing heard yet
    for _ in range(3):
        now[0] += 0.02
        phone.hear(b"\x01" * 160)
    assert phone.recording_started_at == 50.02  # the first frame's time, not the last's
    phone.start_recording()  # a restart is a new recording
    assert phone.recording_started_at is None
    now[0] = 60.0
    phone.hear(b"\x02" * 160)
    assert phone.recording_started_at == 60.0
