"""VAD edges per speaker; tap subscriptions; WAV recordings."""
from __future__ import annotations

import wave

from media_harness import SILENCE, voice

from agents.audio import ulaw_to_pcm16
from conference.media.taps import Recordings, TapHub
from conference.media.vad import SpeechDetector


def test_speech_start_and_stop_edges_are_attributed():
    det = SpeechDetector("alice")
    edges = [det.feed(SILENCE, t * 20) for t in range(10)]
    assert edges == [None] * 10
    edges = [det.feed(voice(t), 200 + t * 20) for t in range(20)]
    started = [e for e in edges if e]
    assert len(started) == 1 and started[0].speaker == "alice" and started[0].started
    assert started[0].at_ms == 200 + 2 * 20  # the third voiced frame
    edges = [det.feed(SILENCE, 600 + t * 20) for t in range(30)]
    stopped = [e for e in edges if e]
    assert len(stopped) == 1 and not stopped[0].started
    # 300 ms of quiet, plus webrtcvad's own hangover of a few frames
    assert 600 + 14 * 20 <= stopped[0].at_ms <= 600 + 25 * 20


def test_vad_accepts_odd_chunk_sizes():
    det = SpeechDetector("bob")
    audio = b"".join(voice(t) for t in range(10))
    edges = [det.feed(audio[i:i + 100], i / 8) for i in range(0, len(audio), 100)]
    assert sum(1 for e in edges if e) == 1


def test_tap_subscribe_unsubscribe_and_faulty_subscriber():
    hub, got = TapHub(), []
    unsubscribe = hub.subscribe("mix:room", got.append)
    hub.subscribe("mix:room", lambda data: 1 / 0)  # a broken listener is dropped, not fatal
    hub.publish("mix:room", b"a")
    hub.publish("mix:room", b"b")
    hub.publish("CA1", b"other leg")
    assert got == [b"a", b"b"] and hub.errors == 1
    unsubscribe()
    hub.publish("mix:room", b"c")
    assert got == [b"a", b"b"] and not hub.has_subscribers("mix:room")


def test_recording_writes_a_wav_of_the_leg(tmp_path):
    hub = TapHub()
    recordings = Recordings(hub, str(tmp_path))
    path = recordings.start("CA1", "room/../x", "alice")
    assert recordings.start("CA2", "..", "..").startswith(str(tmp_path / "~2E~2E" / "~2E~2E"))
    recordings.stop("CA2")
    frames = [voice(t) for t in range(50)]
    for frame in frames:
        hub.publish("CA1", frame)
    assert recordings.stop("CA1") == path
    assert recordings.stop("CA1") is None
    assert path == str(tmp_path / "room~2F~2E~2E~2Fx" / "alice.wav")  # no path traversal
    with wave.open(path, "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)
        assert wav.readframes(wav.getnframes()) == ulaw_to_pcm16(b"".join(frames))
