"""Sans-I/O audio helpers: mu-law/PCM16 codecs, WAV wrapping and a stateful resampler.

Everything is 16-bit signed little-endian mono unless a name says mu-law. No I/O, no clocks.
"""
from __future__ import annotations

import io
import math
import struct
import sys
import warnings
import wave

if sys.version_info >= (3, 13):
    import audioop_lts as audioop  # the stdlib module was removed in 3.13
else:
    with warnings.catch_warnings():
        # audioop is deprecated on 3.11/3.12 but is the mandated codec there.
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop

SAMPLE_WIDTH = 2
ULAW_RATE = 8000
FRAME_MS = 20
ULAW_FRAME_BYTES = ULAW_RATE * FRAME_MS // 1000  # 160 bytes = 20 ms of mu-law
ULAW_SILENCE = b"\xff"


def ulaw_to_pcm16(ulaw: bytes | bytearray | memoryview) -> bytes:
    """Decode mu-law bytes to PCM16 at the same rate."""
    return audioop.ulaw2lin(ulaw, SAMPLE_WIDTH)


def pcm16_to_ulaw(pcm: bytes) -> bytes:
    """Encode PCM16 to mu-law at the same rate (a trailing odd byte is dropped)."""
    return audioop.lin2ulaw(pcm[: len(pcm) - len(pcm) % 2], SAMPLE_WIDTH)


def rms(pcm: bytes) -> int:
    """Root-mean-square level of PCM16 samples (0 for empty input)."""
    return audioop.rms(pcm[: len(pcm) - len(pcm) % 2], SAMPLE_WIDTH) if len(pcm) > 1 else 0


def ulaw_ms(ulaw: bytes) -> int:
    """Duration in ms of 8 kHz mu-law bytes."""
    return len(ulaw) * 1000 // ULAW_RATE


def wav_bytes(pcm: bytes, rate: int) -> bytes:
    """Wrap PCM16 mono in a WAV container (what transcription APIs accept)."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(SAMPLE_WIDTH)
        wav.setframerate(rate)
        wav.writeframes(pcm)
    return out.getvalue()


def read_wav(data: bytes) -> tuple[bytes, int]:
    """(PCM16 mono frames, sample rate) from WAV bytes; multi-channel input is mixed down."""
    with wave.open(io.BytesIO(data), "rb") as wav:
        frames = wav.readframes(wav.getnframes())
        width, channels, rate = wav.getsampwidth(), wav.getnchannels(), wav.getframerate()
    if width != SAMPLE_WIDTH:
        frames = audioop.lin2lin(frames, width, SAMPLE_WIDTH)
    if channels == 2:
        frames = audioop.tomono(frames, SAMPLE_WIDTH, 0.5, 0.5)
    return frames, rate


def split_frames(ulaw: bytes, size: int = ULAW_FRAME_BYTES) -> list[bytes]:
    """Cut audio into `size`-byte frames; the last one is padded with mu-law silence."""
    frames = [ulaw[i : i + size] for i in range(0, len(ulaw), size)]
    if frames and len(frames[-1]) < size:
        frames[-1] += ULAW_SILENCE * (size - len(frames[-1]))
    return frames


class Resampler:
    """Streaming PCM16 rate converter whose output does not depend on how input is chunked.

    `audioop.ratecv` state and any odd trailing byte are carried between chunks, so chunk
    joins are seamless. When downsampling, a moving-average low-pass (zeros at multiples of
    the output rate) runs first, with its history also carried, to limit aliasing.
    """

    def __init__(self, src_rate: int, dst_rate: int) -> None:
        self.src_rate = src_rate
        self.dst_rate = dst_rate
        self._state: tuple | None = None
        self._odd = b""
        taps = math.ceil(src_rate / dst_rate) if src_rate > dst_rate else 1
        self._taps = taps
        self._history = b"\x00\x00" * (taps - 1)

    def process(self, pcm: bytes) -> bytes:
        """Resample the next chunk (any length, even a split sample)."""
        data = self._odd + pcm
        cut = len(data) - len(data) % 2
        data, self._odd = data[:cut], data[cut:]
        if not data:
            return b""
        if self._taps > 1:
            data = self._lowpass(data)
        if self.src_rate == self.dst_rate:
            return data
        out, self._state = audioop.ratecv(
            data, SAMPLE_WIDTH, 1, self.src_rate, self.dst_rate, self._state
        )
        return out

    def _lowpass(self, data: bytes) -> bytes:
        extended = self._history + data
        keep = (self._taps - 1) * SAMPLE_WIDTH
        self._history = extended[len(extended) - keep :] if keep else b""
        total = None
        for tap in range(self._taps):
            # Scale before adding so the sum cannot clip.
            window = extended[tap * SAMPLE_WIDTH : tap * SAMPLE_WIDTH + len(data)]
            part = audioop.mul(window, SAMPLE_WIDTH, 1 / self._taps)
            total = part if total is None else audioop.add(total, part, SAMPLE_WIDTH)
        return total

    def reset(self) -> None:
        """Forget all carried state (start of an unrelated stream)."""
        self.__init__(self.src_rate, self.dst_rate)


class UlawEncoder:
    """Streaming PCM16 at `src_rate` -> 8 kHz mu-law, for TTS output."""

    def __init__(self, src_rate: int) -> None:
        self._resampler = Resampler(src_rate, ULAW_RATE)

    def process(self, pcm: bytes) -> bytes:
        """Encode the next PCM chunk (any length)."""
        return pcm16_to_ulaw(self._resampler.process(pcm))


def voiced_frame(tick: int) -> bytes:
    """Frame `tick` of a synthetic voice (200 Hz and harmonics), mu-law: a VAD hears speech.

    For tests and benches that need speech without a recording.
    """
    start = tick * 160
    pcm = b"".join(struct.pack("<h", int(6000 * (
        math.sin(2 * math.pi * 200 * n / 8000) + 0.5 * math.sin(2 * math.pi * 400 * n / 8000)
        + 0.3 * math.sin(2 * math.pi * 800 * n / 8000)))) for n in range(start, start + 160))
    return pcm16_to_ulaw(pcm)
