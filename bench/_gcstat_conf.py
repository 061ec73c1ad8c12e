"""gunicorn config for `media_bench --hook gcstat`: time every garbage collection in each worker.

Writes $BENCH_HOOK_DIR/worker-<pid>.json at exit: per generation, the count, total and
maximum pause in ms, and the ten longest pauses. A long gen-2 pause stalls every stream of
the worker at once, which shows up as a p99/max spike.
"""
from __future__ import annotations

import gc
import json
import os
import time

_started: list[float] = []
_pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}


def _on_gc(phase: str, info: dict) -> None:
    if phase == "start":
        _started.append(time.perf_counter())
    elif _started:
        _pauses[info["generation"]].append((time.perf_counter() - _started.pop()) * 1000)


def post_worker_init(worker) -> None:
    """Start timing collections once the worker serves."""
    gc.callbacks.append(_on_gc)


def worker_exit(server, worker) -> None:
    """Write this worker's pauses."""
    directory = os.environ["BENCH_HOOK_DIR"]
    os.makedirs(directory, exist_ok=True)
    summary = {
        gen: {"count": len(p), "total_ms": round(sum(p), 1), "max_ms": round(max(p, default=0), 2),
              "longest_ms": sorted((round(x, 2) for x in p), reverse=True)[:10]}
        for gen, p in _pauses.items()
    }
    summary["tracked_objects"] = len(gc.get_objects())
    with open(os.path.join(directory, f"worker-{os.getpid()}.json"), "w") as f:
        json.dump(summary, f, indent=1)
