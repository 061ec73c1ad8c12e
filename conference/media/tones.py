"""Pure-tone detection: Twilio's conference beeps (and single-note hold music) are not speech.

https://www.twilio.com/docs/voice/twiml/conference#beep: join/leave beeps are short tones played
into the conference, so the forks (barge-in, transcripts) hear them. A sine obeys
x[n] + x[n-2k] = c_k * x[n-k] (c_k = 2cos(k*w)) at every lag k; a sound with several
components (voiced speech: a pitch and its harmonics) cannot at lags where their phases differ.
"""
from __future__ import annotations

from agents.audio import audioop, ulaw_to_pcm16

LAGS = (5, 11)  # 0.6 and 1.4 ms: short lags alone fit any smooth (low-pitched) sound
MAX_RESIDUAL = 0.17  # rms share of the frame the sine recurrence may miss (about -15 dB)
MIN_RMS = 100  # below ~-50 dBFS: too quiet to call a tone
W = 2  # bytes per 16-bit sample


def _residual_share(pcm: bytes, k: int) -> float:
    # Halved before adding, so x[n] + x[n-2k] cannot clip; the ratio is unchanged.
    half = audioop.mul(pcm, W, 0.5)
    outer = audioop.add(half[2 * k * W:], half[:-2 * k * W], W)
    mid = half[k * W:-k * W]
    if audioop.rms(mid, W) == 0 or audioop.rms(outer, W) == 0:
        return 1.0
    c = audioop.findfactor(outer, mid)
    rest = audioop.add(outer, audioop.mul(mid, W, -c), W)
    return audioop.rms(rest, W) / audioop.rms(outer, W)


def is_pure_tone(ulaw: bytes) -> bool:
    """True when the mu-law frame (20 ms) is a single sine (a beep), not speech or silence."""
    pcm = ulaw_to_pcm16(ulaw)
    if len(pcm) <= W * (2 * max(LAGS) + 8) or audioop.rms(pcm, W) < MIN_RMS:
        return False
    return all(_residual_share(pcm, k) < MAX_RESIDUAL for k in LAGS)


def silence_tones(ulaw: bytes, frame: int = 160) -> bytes:
    """`ulaw` with every whole 20 ms frame that is a pure tone replaced by silence."""
    if not any(is_pure_tone(ulaw[i:i + frame]) for i in range(0, len(ulaw) - frame + 1, frame)):
        return ulaw
    out = bytearray(ulaw)
    for i in range(0, len(ulaw) - frame + 1, frame):
        if is_pure_tone(ulaw[i:i + frame]):
            out[i:i + frame] = b"\xff" * frame
    return bytes(out)
