"""Codec helpers and the stateful resampler: chunking never changes the output."""
from __future__ import annotations

import math
import struct

import pytest

from agents import audio
from agents.audio import Resampler, UlawEncoder


def sine(freq: float, rate: int, seconds: float, amplitude: int = 12000) -> bytes:
    n = int(rate * seconds)
    return struct.pack(
        f"<{n}h", *(int(amplitude * math.sin(2 * math.pi * freq * i / rate)) for i in range(n))
    )


def samples(pcm: bytes) -> list[int]:
    return list(struct.unpack(f"<{len(pcm) // 2}h", pcm))


def odd_chunks(data: bytes, sizes=(1, 7, 333, 4801, 2, 999)) -> list[bytes]:
    chunks, pos, i = [], 0, 0
    while pos < len(data):
        chunks.append(data[pos : pos + sizes[i % len(sizes)]])
        pos += sizes[i % len(sizes)]
        i += 1
    return chunks


def max_step(values: list[int]) -> int:
    return max(abs(b - a) for a, b in zip(values, values[1:], strict=False))


@pytest.mark.parametrize(("src", "dst"), [(24000, 8000), (22050, 8000), (8000, 16000)])
def test_chunked_resampling_equals_one_shot(src, dst):
    pcm = sine(440, src, 1.0)
    whole = Resampler(src, dst).process(pcm)
    stateful = Resampler(src, dst)
    chunked = b"".join(stateful.process(chunk) for chunk in odd_chunks(pcm))
    assert chunked == whole
    assert abs(len(whole) // 2 - dst) <= 2


def test_no_discontinuity_at_joins():
    pcm = sine(440, 24000, 1.0)
    stateful = Resampler(24000, 8000)
    out = samples(b"".join(stateful.process(c) for c in odd_chunks(pcm)))
    # A 440 Hz sine at 8 kHz moves at most 2*pi*440/8000*A per sample.
    bound = 2 * math.pi * 440 / 8000 * 12000 * 1.1
    assert max_step(out[10:]) < bound


def test_stateless_chunking_would_click():
    # Shows the join test can fail: restarting state per chunk produces a step at the joins.
    pcm = sine(440, 24000, 1.0)
    out = samples(b"".join(Resampler(24000, 8000).process(c) for c in odd_chunks(pcm)))
    bound = 2 * math.pi * 440 / 8000 * 12000 * 1.1
    assert max_step(out[10:]) > bound


def test_downsampling_lowpass_attenuates_aliasing_band():
    # 7 kHz would alias to 1 kHz at 8 kHz; the pre-filter must cut it well below a 1 kHz tone.
    tone = Resampler(24000, 8000).process(sine(1000, 24000, 0.5))
    alias = Resampler(24000, 8000).process(sine(7000, 24000, 0.5))
    assert audio.rms(alias) < audio.rms(tone) * 0.2


def test_ulaw_roundtrip_and_frames():
    pcm = sine(300, 8000, 0.1)
    back = samples(audio.ulaw_to_pcm16(audio.pcm16_to_ulaw(pcm)))
    assert max(abs(a - b) for a, b in zip(samples(pcm), back, strict=True)) < 400
    frames = audio.split_frames(b"\x01" * 350)
    assert [len(f) for f in frames] == [160, 160, 160]
    assert frames[-1].endswith(audio.ULAW_SILENCE * 130)
    assert audio.ulaw_ms(b"\x00" * 800) == 100


def test_wav_roundtrip():
    pcm = sine(300, 16000, 0.05)
    assert audio.read_wav(audio.wav_bytes(pcm, 16000)) == (pcm, 16000)


def test_ulaw_encoder_splits_samples_across_chunks():
    pcm = sine(500, 24000, 0.2)
    whole = UlawEncoder(24000).process(pcm)
    enc = UlawEncoder(24000)
    assert b"".join(enc.process(c) for c in odd_chunks(pcm, (3, 5))) == whole
