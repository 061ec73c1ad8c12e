"""Sans-I/O conference mix: each leg hears the sum of the others, in linear PCM, clipped.

Rules (Twilio's, see reference §6.3-6.4):
- a muted leg is heard by no one, but still hears the conference;
- a held leg neither hears nor is heard (it gets silence here; the caller may play hold music);
- a coach (`coach_target` set) is heard only by the leg it coaches, and hears the conference;
- nobody hears themselves.

Speed: one tick is O(legs) C-level audioop calls. Samples are widened to 32 bits and scaled
down by 256 so that a sum of up to 256 full-scale talkers cannot overflow; each listener's mix
is the public total minus its own voice plus its coaches, clipped to 16 bits on the way back.
"""
from __future__ import annotations

from dataclasses import dataclass

from twilio_sim.audio import FRAME_BYTES, SILENCE, audioop

_WIDE = 4  # bytes per sample while summing
_HEADROOM = 256  # how many full-scale voices fit in a 32-bit sum without wrapping
_ZERO_WIDE = b"\x00" * (FRAME_BYTES * _WIDE)


@dataclass(frozen=True)
class MixLeg:
    """How one conference leg takes part in the mix."""

    leg_id: str
    muted: bool = False
    hold: bool = False
    coach_target: str | None = None  # leg_id of the call this leg coaches, if coaching


def mix(frames: dict[str, bytes], legs: dict[str, MixLeg]) -> dict[str, bytes]:
    """One 20 ms tick: map leg_id -> the μ-law frame that leg hears.

    `frames` holds what each leg says this tick (160 μ-law bytes); a missing leg says nothing.
    Every leg in `legs` gets an output frame.
    """
    voices = _wide_voices(frames, legs)
    public = {leg_id: v for leg_id, v in voices.items() if legs[leg_id].coach_target is None}
    coaches: dict[str, list[bytes]] = {}
    for leg_id, v in voices.items():
        target = legs[leg_id].coach_target
        if target is not None and target != leg_id:
            coaches.setdefault(target, []).append(v)
    total = _sum(public.values())
    out: dict[str, bytes] = {}
    for leg_id, leg in legs.items():
        if leg.hold:
            out[leg_id] = SILENCE
            continue
        heard = total
        own = public.get(leg_id)
        if own is not None:
            heard = audioop.add(total, audioop.mul(own, _WIDE, -1), _WIDE)
        for coach in coaches.get(leg_id, ()):
            heard = coach if heard is None else audioop.add(heard, coach, _WIDE)
        out[leg_id] = _narrow(heard)
    return out


def _wide_voices(frames: dict[str, bytes], legs: dict[str, MixLeg]) -> dict[str, bytes]:
    """Audible, non-silent voices as scaled 32-bit PCM."""
    voices = {}
    for leg_id, frame in frames.items():
        leg = legs.get(leg_id)
        if leg is None or leg.muted or leg.hold or not frame or frame == SILENCE:
            continue
        frame = _fit(frame)
        wide = audioop.ulaw2lin(frame, _WIDE)  # sample << 16
        voices[leg_id] = audioop.mul(wide, _WIDE, 1.0 / _HEADROOM)  # exact: multiples of 256
    return voices


def _sum(voices) -> bytes | None:
    total = None
    for v in voices:
        total = v if total is None else audioop.add(total, v, _WIDE)
    return total


def _narrow(wide: bytes | None) -> bytes:
    """Scaled 32-bit sum -> clipped μ-law (audioop.mul saturates at the 32-bit bounds)."""
    if wide is None or wide == _ZERO_WIDE:
        return SILENCE
    return audioop.lin2ulaw(audioop.mul(wide, _WIDE, _HEADROOM), _WIDE)


def _fit(frame: bytes) -> bytes:
    """Pad or trim a frame to 160 bytes so legs add sample by sample."""
    if len(frame) == FRAME_BYTES:
        return frame
    return (frame + SILENCE)[:FRAME_BYTES]
