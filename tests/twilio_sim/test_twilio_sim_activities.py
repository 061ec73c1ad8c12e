"""Per-tick verb activities (sans-I/O apart from a gevent Event)."""
from __future__ import annotations

from twilio_sim.activities import PauseActivity, PlayActivity
from twilio_sim.audio import SILENCE


def test_play_runs_its_frames_loop_times_then_is_done():
    audio = bytes(range(200))  # 1.25 frames -> 2 frames, the second padded
    play = PlayActivity(audio, loop=2)
    frames = [play.step(SILENCE) for _ in range(4)]
    assert play.done.is_set()
    assert frames[0] == audio[:160] and frames[1][:40] == audio[160:]
    assert frames[1][40:] == SILENCE[40:] and frames[2] == frames[0]


def test_pause_counts_ticks():
    pause = PauseActivity(0.1)
    for _ in range(4):
        assert pause.step(b"x") == SILENCE and not pause.done.is_set()
    pause.step(b"x")
    assert pause.done.is_set()
    assert PauseActivity(0).done.is_set()


def test_cancel_ends_an_endless_loop():
    play = PlayActivity(b"\x00" * 160, loop=0)
    for _ in range(100):
        play.step(SILENCE)
    assert not play.done.is_set()
    play.cancel()
    assert play.done.is_set()
