"""Audio helpers for the simulator: G.711 μ-law codec, tones, WAV I/O, levels (all sans-I/O).

Conventions: μ-law is 8 kHz mono, one byte per sample; PCM is signed 16-bit little-endian.
Levels are in dBFS relative to 32768: `rms_dbfs` of a full-scale square wave is 0, and
`tone_level_dbfs` / `tone_pcm(dbfs=...)` use the sine peak, so a full-scale sine is 0 dBFS.
"""
from __future__ import annotations

import io
import math
import struct
import warnings
from array import array
from functools import lru_cache

with warnings.catch_warnings():
    # 3.11 warns on import of the stdlib module; 3.13+ needs the audioop-lts backport.
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import audioop
    except ImportError:  # pragma: no cover - Python >= 3.13
        import audioop_lts as audioop  # type: ignore[no-redef]

SAMPLE_RATE = 8000
FRAME_MS = 20
FRAME_BYTES = SAMPLE_RATE * FRAME_MS // 1000  # 160 μ-law bytes per 20 ms frame
SILENCE = b"\xff" * FRAME_BYTES  # μ-law 0xFF decodes to 0
FULL_SCALE = 32768.0
FLOOR_DBFS = -120.0  # what a level of exactly zero reports, instead of -inf

_WAVE_PCM, _WAVE_MULAW, _WAVE_EXTENSIBLE = 1, 7, 0xFFFE


def ulaw_to_pcm(ulaw: bytes) -> bytes:
    """Decode μ-law bytes to PCM16."""
    return audioop.ulaw2lin(ulaw, 2)


def pcm_to_ulaw(pcm: bytes) -> bytes:
    """Encode PCM16 to μ-law bytes."""
    return audioop.lin2ulaw(pcm, 2)


def split_frames(ulaw: bytes) -> list[bytes]:
    """Cut μ-law audio into 160-byte frames, padding the last one with silence."""
    frames = [ulaw[i:i + FRAME_BYTES] for i in range(0, len(ulaw), FRAME_BYTES)]
    if frames and len(frames[-1]) < FRAME_BYTES:
        frames[-1] += SILENCE[len(frames[-1]):]
    return frames


def silence_ulaw(ms: int) -> bytes:
    """`ms` milliseconds of μ-law silence."""
    return b"\xff" * (SAMPLE_RATE * ms // 1000)


@lru_cache(maxsize=64)
def tone_pcm(freq: float, ms: int, dbfs: float = -12.0, rate: int = SAMPLE_RATE) -> bytes:
    """A sine of `freq` Hz lasting `ms` ms whose peak is `dbfs` (PCM16 at `rate`)."""
    amp = FULL_SCALE * 10 ** (dbfs / 20.0)
    step = 2 * math.pi * freq / rate
    n = rate * ms // 1000
    clip = lambda x: max(-32768, min(32767, round(x)))  # noqa: E731
    samples = array("h", (clip(amp * math.sin(step * i)) for i in range(n)))
    return _le(samples)


def tone_ulaw(freq: float, ms: int, dbfs: float = -12.0) -> bytes:
    """A sine tone as 8 kHz μ-law."""
    return pcm_to_ulaw(tone_pcm(freq, ms, dbfs))


def rms_dbfs(pcm: bytes) -> float:
    """RMS level of PCM16 in dBFS (FLOOR_DBFS for digital silence)."""
    if not pcm:
        return FLOOR_DBFS
    return _db(audioop.rms(pcm, 2))


def ulaw_dbfs(ulaw: bytes) -> float:
    """RMS level of μ-law audio in dBFS."""
    return rms_dbfs(ulaw_to_pcm(ulaw))


def tone_level_dbfs(pcm: bytes, freq: float, *, rate: int = SAMPLE_RATE,
                    window_ms: int | None = None) -> float:
    """Peak level in dBFS of the `freq` Hz component of PCM16 (Goertzel, Hann window).

    With `window_ms`, the audio is measured in consecutive windows and the loudest one is
    returned, so a short tone in a long recording is not averaged away. Speech leaks into
    any bin: espeak speech reads about -45..-37 dBFS at 1-2.5 kHz in 200 ms windows, but
    below -55 near 3.1 kHz, so "not heard" checks at -50 should use such a tone frequency.
    """
    samples = _samples(pcm)
    if not samples:
        return FLOOR_DBFS
    size = len(samples) if window_ms is None else max(1, rate * window_ms // 1000)
    best = 0.0
    for start in range(0, len(samples), size):
        chunk = samples[start:start + size]
        if window_ms is None or len(chunk) == size or start == 0:
            best = max(best, _goertzel_amplitude(chunk, freq, rate))
    return _db(best)


def _goertzel_amplitude(samples, freq: float, rate: int) -> float:
    """Amplitude of the `freq` component, corrected for the Hann window's gain of 1/2."""
    n = len(samples)
    window = _hann(n)
    coeff = 2.0 * math.cos(2.0 * math.pi * freq / rate)
    s1 = s2 = 0.0
    for x, w in zip(samples, window, strict=True):
        s1, s2 = x * w + coeff * s1 - s2, s1
    power = s1 * s1 + s2 * s2 - coeff * s1 * s2
    return 4.0 * math.sqrt(max(power, 0.0)) / n


@lru_cache(maxsize=16)
def _hann(n: int) -> tuple[float, ...]:
    if n == 1:
        return (1.0,)
    return tuple(0.5 - 0.5 * math.cos(2.0 * math.pi * i / (n - 1)) for i in range(n))


def read_wav_ulaw(source: str | bytes | io.IOBase) -> bytes:
    """Read a WAV (PCM 8/16-bit or μ-law, any rate, mono or stereo) as 8 kHz mono μ-law."""
    data = _read_source(source)
    fmt, channels, rate, width, payload = _parse_riff(data)
    if fmt == _WAVE_MULAW:
        pcm, width = audioop.ulaw2lin(payload, 2), 2
    elif fmt == _WAVE_PCM and width in (1, 2, 3, 4):
        pcm = audioop.bias(payload, 1, -128) if width == 1 else payload
    else:
        raise ValueError(f"unsupported WAV encoding (format {fmt}, {width * 8}-bit)")
    if width != 2:
        pcm = audioop.lin2lin(pcm, width, 2)
    if channels == 2:
        pcm = audioop.tomono(pcm, 2, 0.5, 0.5)
    elif channels != 1:
        raise ValueError(f"unsupported channel count {channels}")
    if rate != SAMPLE_RATE:
        pcm, _ = audioop.ratecv(pcm, 2, 1, rate, SAMPLE_RATE, None)
    return pcm_to_ulaw(pcm)


def wav_from_pcm(pcm: bytes, rate: int = SAMPLE_RATE) -> bytes:
    """A mono PCM16 WAV file holding `pcm`."""
    return _riff(_WAVE_PCM, rate, 2, pcm)


def wav_from_ulaw(ulaw: bytes, *, as_pcm: bool = True) -> bytes:
    """An 8 kHz WAV of μ-law audio, stored as PCM16 (default) or as μ-law (format 7)."""
    if as_pcm:
        return wav_from_pcm(ulaw_to_pcm(ulaw))
    return _riff(_WAVE_MULAW, SAMPLE_RATE, 1, ulaw)


def _riff(fmt: int, rate: int, width: int, payload: bytes) -> bytes:
    pad = b"\x00" if len(payload) % 2 else b""
    fmt_chunk = struct.pack("<HHIIHH", fmt, 1, rate, rate * width, width, width * 8)
    if fmt != _WAVE_PCM:
        fmt_chunk += b"\x00\x00"  # cbSize: non-PCM formats carry it
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt_chunk)) + fmt_chunk
            + b"data" + struct.pack("<I", len(payload)) + payload + pad)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _parse_riff(data: bytes) -> tuple[int, int, int, int, bytes]:
    """(format tag, channels, rate, bytes per sample, data) of a RIFF/WAVE file."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError("not a RIFF/WAVE file")
    pos, fmt, payload = 12, None, None
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        chunk = data[pos + 8:pos + 8 + size]
        if cid == b"fmt " and len(chunk) >= 16:
            fmt = struct.unpack_from("<HHIIHH", chunk)
            if fmt[0] == _WAVE_EXTENSIBLE and len(chunk) >= 26:
                fmt = (struct.unpack_from("<H", chunk, 24)[0],) + fmt[1:]
        elif cid == b"data":
            payload = chunk
        pos += 8 + size + (size % 2)
    if fmt is None or payload is None:
        raise ValueError("WAV file lacks a fmt or data chunk")
    tag, channels, rate, _, _, bits = fmt
    width = max(1, bits // 8)
    return tag, channels, rate, width, payload[:len(payload) - len(payload) % (width * channels)]


def _read_source(source: str | bytes | io.IOBase) -> bytes:
    if isinstance(source, bytes | bytearray):
        return bytes(source)
    if isinstance(source, str):
        with open(source, "rb") as f:
            return f.read()
    return source.read()


def _samples(pcm: bytes) -> array:
    samples = array("h")
    samples.frombytes(pcm[:len(pcm) - len(pcm) % 2])
    if struct.pack("=h", 1) != struct.pack("<h", 1):  # pragma: no cover - big-endian hosts
        samples.byteswap()
    return samples


def _le(samples: array) -> bytes:
    if struct.pack("=h", 1) != struct.pack("<h", 1):  # pragma: no cover - big-endian hosts
        samples.byteswap()
    return samples.tobytes()


def _db(level: float) -> float:
    return FLOOR_DBFS if level <= 0 else max(FLOOR_DBFS, 20.0 * math.log10(level / FULL_SCALE))
