"""RSS and append cost of the replay rings per AI stream: compact rings vs the former deque rings.

  .venv/bin/python -m bench.replay_memory [--streams 500]

Each variant runs in a fresh subprocess: N streams' rings filled to steady state (8 s in,
4 s out of 20 ms mu-law frames, each frame a fresh bytes object as the codec produces it).
Prints KB of RSS per stream, the ratio, and the append cost per frame. Not a test.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import deque

from bench._procstat import rss_bytes
from conference.media.replay import PER_S, Ring

FRAME = 160
IN_S, OUT_S = 8.0, 4.0


class DequeRing:
    """The former Ring (a deque of (index, bytes) tuples), kept here as the baseline."""

    def __init__(self, max_bytes: int) -> None:
        self.frames, self.max_bytes, self.size, self.next_index = deque(), max_bytes, 0, 0

    def append(self, data: bytes) -> int:
        index = self.next_index
        self.frames.append((index, data))
        self.next_index += 1
        self.size += len(data)
        while self.size > self.max_bytes and len(self.frames) > 1:
            self.size -= len(self.frames.popleft()[1])
        return index


def _fill(ring, seconds: float, template: bytearray) -> None:
    for _ in range(int(seconds * PER_S / FRAME) + 50):  # past full, so eviction runs too
        ring.append(bytes(template))


def measure(variant: str, streams: int) -> dict:
    """RSS per stream and append cost of one variant (run in its own process)."""
    import os

    cls = Ring if variant == "compact" else DequeRing
    template = bytearray(b"\x7f" * FRAME)
    before = rss_bytes(os.getpid())
    rings = [(cls(int(IN_S * PER_S)), cls(int(OUT_S * PER_S))) for _ in range(streams)]
    for inbound, outbound in rings:
        _fill(inbound, IN_S, template)
        _fill(outbound, OUT_S, template)
    per_stream = (rss_bytes(os.getpid()) - before) / streams
    ring, n = rings[0][0], 200_000
    start = time.perf_counter()
    for _ in range(n):
        ring.append(bytes(template))
    return {"variant": variant, "kb_per_stream": round(per_stream / 1024, 1),
            "append_us": round((time.perf_counter() - start) / n * 1e6, 3)}


def main() -> None:
    """Run both variants in subprocesses and print the comparison."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--streams", type=int, default=500)
    parser.add_argument("--variant", choices=("compact", "deque"))
    args = parser.parse_args()
    if args.variant:
        print(json.dumps(measure(args.variant, args.streams)))
        return
    results = {}
    for variant in ("deque", "compact"):
        out = subprocess.run([sys.executable, "-m", "bench.replay_memory", "--variant", variant,
                              "--streams", str(args.streams)], capture_output=True, text=True,
                             check=True).stdout
        results[variant] = json.loads(out)
        print(out.strip())
    ratio = results["compact"]["kb_per_stream"] / results["deque"]["kb_per_stream"]
    print(json.dumps({"streams": args.streams, "audio_kb": (IN_S + OUT_S) * PER_S / 1024,
                      "compact_over_deque_rss": round(ratio, 3)}))


if __name__ == "__main__":
    main()
