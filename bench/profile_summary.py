"""Summarise a py-spy raw (collapsed-stack) profile: self and inclusive time per function.

  .venv/bin/python -m bench.profile_summary prof/forkline-60.txt [--top 25] [--filter conference]
"""
from __future__ import annotations

import argparse
from collections import Counter


def load(path: str) -> list[tuple[list[str], int]]:
    """(frames root-first, sample count) per line of a collapsed-stack file."""
    stacks = []
    with open(path) as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if stack:
                stacks.append((stack.split(";"), int(count)))
    return stacks


def summarise(stacks, top: int, needle: str | None) -> str:
    """Tables of the functions with most self and most inclusive samples."""
    total = sum(c for _, c in stacks) or 1
    own, inclusive = Counter(), Counter()
    for frames, count in stacks:
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    lines = [f"{total} samples"]
    for title, counter in (("self", own), ("inclusive", inclusive)):
        lines.append(f"\n-- top {title} --")
        rows = [(k, v) for k, v in counter.most_common() if not needle or needle in k][:top]
        lines += [f"{100 * v / total:6.1f}%  {k}" for k, v in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--filter", default=None, help="only frames containing this text")
    args = parser.parse_args()
    print(summarise(load(args.path), args.top, args.filter))
