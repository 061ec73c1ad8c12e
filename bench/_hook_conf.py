"""gunicorn config for `media_bench --hook NAME`: instrument each worker, dump at exit.

It first loads the product's own ./gunicorn.conf.py, if any (gunicorn reads only one config
file), and chains its hooks. NAME comes from $BENCH_HOOK, output goes to $BENCH_HOOK_DIR:
- cprofile: cProfile of the worker, worker-<pid>.prof. Self times are meaningful under gevent;
  cumulative times of functions that switch greenlets (waits, Hub.run) include other greenlets.
- gcstat: every garbage collection timed, worker-<pid>.json (count, total, max and the ten
  longest pauses per generation). A long gen-2 pause stalls every stream of the worker at once.
- gcfreeze: gcstat, plus gc.freeze() after the worker has booted (the recommended fix).
- wsprotocol: gcstat, with the media sockets framed by websockets' ServerProtocol instead of the
  hand-written codec (bench/_ws_protocol.py; bench/ws_codec_bench.py --e2e-streams).
- memsnap / tracemalloc: on SIGUSR2 the worker writes snap-<pid>-<n>.json (RSS, greenlets and
  the C stack they saved on the heap, live objects by type); tracemalloc also traces the heap
  from post_worker_init on and dumps snap-<pid>-<n>.tracemalloc (bench/stream_memory.py).
"""
from __future__ import annotations

import cProfile
import gc
import json
import os
import time
from pathlib import Path

_product = Path.cwd() / "gunicorn.conf.py"
_base: dict = {}
if _product.exists():
    exec(compile(_product.read_text(), str(_product), "exec"), _base)  # noqa: S102
    globals().update({k: v for k, v in _base.items() if not k.startswith("_")})

_HOOK = os.environ.get("BENCH_HOOK", "")
_profile = cProfile.Profile()
_started: list[float] = []
_pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}


def _on_gc(phase: str, info: dict) -> None:
    if phase == "start":
        _started.append(time.perf_counter())
    elif _started:
        _pauses[info["generation"]].append((time.perf_counter() - _started.pop()) * 1000)


def _memsnap(signum, _frame) -> None:
    from bench._memsnap import write_snapshot

    write_snapshot(os.environ["BENCH_HOOK_DIR"])


def post_worker_init(worker) -> None:
    """Run the product's hook, then start instrumenting."""
    if "post_worker_init" in _base:
        _base["post_worker_init"](worker)
    if _HOOK in ("memsnap", "tracemalloc"):
        import signal
        import tracemalloc

        if _HOOK == "tracemalloc":
            tracemalloc.start(int(os.environ.get("BENCH_TRACE_FRAMES", "12")))
        signal.signal(signal.SIGUSR2, _memsnap)
        return
    if _HOOK == "gcfreeze":
        gc.freeze()
    if _HOOK == "wsprotocol":
        from bench._ws_protocol import install

        install()
    if _HOOK == "cprofile":
        _profile.enable()
    else:
        gc.callbacks.append(_on_gc)


def worker_exit(server, worker) -> None:
    """Write this worker's measurements, then run the product's hook."""
    directory = os.environ["BENCH_HOOK_DIR"]
    os.makedirs(directory, exist_ok=True)
    if _HOOK in ("memsnap", "tracemalloc"):
        if "worker_exit" in _base:
            _base["worker_exit"](server, worker)
        return
    path = os.path.join(directory, f"worker-{os.getpid()}")
    if _HOOK == "cprofile":
        _profile.disable()
        _profile.dump_stats(path + ".prof")
    else:
        summary = {gen: {"count": len(p), "total_ms": round(sum(p), 1),
                         "max_ms": round(max(p, default=0), 2),
                         "longest_ms": sorted((round(x, 2) for x in p), reverse=True)[:10]}
                   for gen, p in _pauses.items()}
        summary["tracked_objects"] = len(gc.get_objects())
        summary["frozen_objects"] = gc.get_freeze_count()
        Path(path + ".json").write_text(json.dumps(summary, indent=1))
    if "worker_exit" in _base:
        _base["worker_exit"](server, worker)
