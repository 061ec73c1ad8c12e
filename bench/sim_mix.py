"""Cost of the simulator's per-tick audio work: mixing, playout, media message building.

    python bench/sim_mix.py [--legs 2 4 10 50] [--ticks 2000]

Prints microseconds per 20 ms tick for a conference of N talking legs (one with a coach and
one muted), per playout tick, and per media message built, plus how many such conferences
or streams one core could carry at 50 ticks per second.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from twilio_sim.audio import split_frames, tone_ulaw  # noqa: E402
from twilio_sim.media_protocol import StreamSession  # noqa: E402
from twilio_sim.mixer import MixLeg, mix  # noqa: E402
from twilio_sim.playout import PlayoutBuffer  # noqa: E402


def per_call_us(fn, n: int) -> float:
    """Average wall-clock microseconds of `fn(i)` over n calls."""
    start = time.perf_counter()
    for i in range(n):
        fn(i)
    return (time.perf_counter() - start) / n * 1e6


def bench_mix(legs: int, ticks: int) -> float:
    ids = [f"CA{i}" for i in range(legs)]
    spec = {i: MixLeg(i) for i in ids}
    if legs >= 3:
        spec[ids[-1]] = MixLeg(ids[-1], coach_target=ids[0])
        spec[ids[-2]] = MixLeg(ids[-2], muted=True)
    voices = {i: split_frames(tone_ulaw(300 + 37 * n, 1000)) for n, i in enumerate(ids)}
    return per_call_us(lambda t: mix({i: v[t % 50] for i, v in voices.items()}, spec), ticks)


def bench_playout(ticks: int) -> float:
    buf = PlayoutBuffer()
    chunk = tone_ulaw(440, 1000)

    def tick(t: int) -> None:
        if t % 50 == 0:
            buf.push_media(chunk)
            buf.push_mark(f"m{t}")
        buf.next_frame()

    return per_call_us(tick, ticks)


def bench_messages(n: int) -> float:
    session = StreamSession("AC" + "0" * 32, "CA" + "0" * 32, "MZ" + "0" * 32, "both_tracks")
    frame = tone_ulaw(440, 20)
    return per_call_us(lambda t: session.media("inbound", frame, t), n)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--legs", type=int, nargs="+", default=[2, 4, 10, 50])
    p.add_argument("--ticks", type=int, default=2000)
    args = p.parse_args(argv)
    for legs in args.legs:
        us = bench_mix(legs, args.ticks)
        print(f"mix {legs:>3} legs: {us:8.1f} us/tick  -> {1e6 / (us * 50):8.0f} conferences/core")
    us = bench_playout(args.ticks)
    print(f"playout tick:     {us:8.1f} us/tick  -> {1e6 / (us * 50):8.0f} streams/core")
    us = bench_messages(args.ticks)
    print(f"media message:    {us:8.1f} us/msg   -> {1e6 / (us * 50):8.0f} tracks/core")
    return 0


if __name__ == "__main__":
    sys.exit(main())
