"""Conference mix rules: others only, mute, hold, coach, clipping."""
from __future__ import annotations

import array

import pytest
from hypothesis import given
from hypothesis import strategies as st

from twilio_sim import audio
from twilio_sim.mixer import MixLeg, mix

FREQS = {"a": 400.0, "b": 1000.0, "c": 2000.0, "d": 3000.0}


def voices(*ids, dbfs=-12.0):
    return {i: audio.tone_ulaw(FREQS[i], 20, dbfs) for i in ids}


def heard(frame: bytes, who: str) -> bool:
    # 160 samples give 50 Hz bins; the test tones are far apart, leakage stays below -40.
    return audio.tone_level_dbfs(audio.ulaw_to_pcm(frame), FREQS[who]) > -20


def hearing(out):
    return {leg: {w for w in FREQS if heard(frame, w)} for leg, frame in out.items()}


def legs(**kw):
    return {i: MixLeg(i, **kw.get(i, {})) for i in ("a", "b", "c")}


def test_each_leg_hears_the_others_but_not_itself():
    out = mix(voices("a", "b", "c"), legs())
    assert hearing(out) == {"a": {"b", "c"}, "b": {"a", "c"}, "c": {"a", "b"}}


def test_muted_leg_is_heard_by_no_one_but_still_hears():
    out = mix(voices("a", "b", "c"), legs(c={"muted": True}))
    assert hearing(out) == {"a": {"b"}, "b": {"a"}, "c": {"a", "b"}}


def test_held_leg_neither_hears_nor_is_heard():
    out = mix(voices("a", "b", "c"), legs(c={"hold": True}))
    assert hearing(out) == {"a": {"b"}, "b": {"a"}, "c": set()}
    assert out["c"] == audio.SILENCE


def test_coach_is_heard_only_by_its_target_and_hears_everyone():
    out = mix(voices("a", "b", "c"), legs(c={"coach_target": "b"}))
    assert hearing(out) == {"a": {"b"}, "b": {"a", "c"}, "c": {"a", "b"}}


def test_muted_coach_is_heard_by_nobody():
    out = mix(voices("a", "b", "c"), legs(c={"coach_target": "b", "muted": True}))
    assert hearing(out)["b"] == {"a"}


def test_missing_and_unknown_frames_are_silence():
    out = mix({"a": voices("a")["a"], "zz": voices("b")["b"]}, legs())
    assert hearing(out) == {"a": set(), "b": {"a"}, "c": {"a"}}
    assert out["a"] == audio.SILENCE


def test_lone_leg_hears_silence():
    assert mix(voices("a"), {"a": MixLeg("a")}) == {"a": audio.SILENCE}


def test_sum_is_clipped_not_wrapped():
    loud = audio.tone_ulaw(1000, 20, 0.0)
    out = mix({"a": loud, "b": loud, "c": loud}, legs())
    pcm = array.array("h", audio.ulaw_to_pcm(out["a"]))
    assert max(pcm) == 32124 and min(pcm) == -32124  # μ-law's largest magnitude
    # Wrapping would flip the sign where the sum overflows; clipping keeps it.
    single = array.array("h", audio.ulaw_to_pcm(loud))
    assert all((x >= 0) == (s >= 0) for x, s in zip(pcm, single, strict=True) if abs(s) > 1000)


def test_short_frames_are_padded():
    out = mix({"a": voices("a")["a"][:80], "b": audio.SILENCE}, legs())
    assert len(out["b"]) == 160
    assert out["b"][80:] == audio.SILENCE[80:]


@given(st.lists(st.binary(min_size=160, max_size=160), min_size=2, max_size=5))
def test_mix_equals_clipped_sample_sum_of_others(frames):
    ids = [f"L{i}" for i in range(len(frames))]
    out = mix(dict(zip(ids, frames, strict=True)), {i: MixLeg(i) for i in ids})
    decoded = [array.array("h", audio.ulaw_to_pcm(f)) for f in frames]
    for n, leg in enumerate(ids):
        expect = [max(-32768, min(32767, sum(d[k] for j, d in enumerate(decoded) if j != n)))
                  for k in range(160)]
        want = audio.pcm_to_ulaw(array.array("h", expect).tobytes())
        assert out[leg] == want


@pytest.mark.parametrize("n", [2, 10])
def test_every_leg_gets_a_160_byte_frame(n):
    ids = [f"L{i}" for i in range(n)]
    out = mix({i: audio.tone_ulaw(500, 20) for i in ids}, {i: MixLeg(i) for i in ids})
    assert set(out) == set(ids) and all(len(f) == 160 for f in out.values())


def test_coach_of_an_absent_call_is_heard_by_nobody():
    out = mix(voices("a", "b", "c"), legs(c={"coach_target": "CAgone"}))
    assert hearing(out) == {"a": {"b"}, "b": {"a"}, "c": {"a", "b"}}


def test_coach_target_hears_the_coach_even_when_muted_itself():
    out = mix(voices("a", "b", "c"), legs(b={"muted": True}, c={"coach_target": "b"}))
    assert hearing(out) == {"a": set(), "b": {"a", "c"}, "c": {"a"}}


def test_whisper_tone_reaches_only_the_coached_agent_over_a_call():
    from twilio_sim.phone import Phone

    phones = {"customer": Phone(), "agent": Phone(), "ai": Phone()}
    spec = {"customer": MixLeg("customer"), "agent": MixLeg("agent"),
            "ai": MixLeg("ai", coach_target="agent")}
    phones["customer"].say_text("What are your opening hours?")
    phones["agent"].say_text("We open at nine.")
    # 3.1 kHz: espeak speech has little energy there, so "not heard" can be asserted at -50.
    phones["ai"].play_tone(3100, 1000, -12.0)
    for p in phones.values():
        p.start_recording()
    for _ in range(100):  # two seconds of ticks
        heard = mix({name: p.next_frame() for name, p in phones.items()}, spec)
        for name, p in phones.items():
            p.hear(heard[name])
    level = {name: audio.tone_level_dbfs(audio.ulaw_to_pcm(p.recording_ulaw()), 3100,
                                         window_ms=200) for name, p in phones.items()}
    assert level["agent"] == pytest.approx(-12.0, abs=1.5)
    assert level["customer"] < -50
    assert audio.ulaw_dbfs(phones["customer"].recording_ulaw()) > -35  # hears the agent
    assert audio.ulaw_dbfs(phones["agent"].recording_ulaw()) > -35  # and the agent hears it
