"""gunicorn config for `conference_bench --cpu-wait`: why the hub was late, running or waiting.

It loads the product's own ./gunicorn.conf.py and chains its post_worker_init. A greenlet sleeps
TICK_S; when it wakes more than LATE_S late it reads the main thread's /proc schedstat and
splits the lateness into time the thread *ran* (Python or C code holding the hub) and time it
*waited* runnable for a CPU (other processes on its core: the CPU pool, espeak-ng, other
work). A native sampler thread records the main thread's stack while a beat is overdue (what
ran, when it was Python). At worker exit both go to $BENCH_CPUWAIT_DIR/worker-<pid>.json.
"""
from __future__ import annotations

import collections
import json
import os
import sys
import time
import traceback
from pathlib import Path

_product = Path.cwd() / "gunicorn.conf.py"
_base: dict = {}
if _product.exists():
    exec(compile(_product.read_text(), str(_product), "exec"), _base)  # noqa: S102
    globals().update({k: v for k, v in _base.items() if not k.startswith("_")})

TICK_S = 0.004
LATE_S = 0.008
_episodes: list[tuple[float, float, float, float]] = []  # (epoch, late, ran, waited) seconds
_stacks: collections.Counter = collections.Counter()
_beat = [0.0]


def _schedstat(fd: int) -> tuple[int, int]:
    ran, waited = os.pread(fd, 128, 0).split()[:2]  # ns on CPU, ns runnable in a run queue
    return int(ran), int(waited)


def _heart(path: str) -> None:
    import gevent

    fd = os.open(path, os.O_RDONLY)
    before, stat = time.perf_counter(), _schedstat(fd)
    while True:
        _beat[0] = before
        gevent.sleep(TICK_S)
        now, new = time.perf_counter(), _schedstat(fd)
        if now - before - TICK_S > LATE_S:
            _episodes.append((time.time(), now - before - TICK_S, (new[0] - stat[0]) / 1e9,
                              (new[1] - stat[1]) / 1e9))
        before, stat = now, new


def _sampler(main: int, sleep) -> None:
    while True:
        sleep(0.002)
        if _beat[0] and time.perf_counter() - _beat[0] > TICK_S + LATE_S:
            frame = sys._current_frames().get(main)
            if frame is not None:
                stack = traceback.extract_stack(frame)[-8:]
                _stacks["\n".join(f"{Path(f.filename).name}:{f.lineno} {f.name}"
                                  for f in stack)] += 1


def _dump() -> None:
    out = Path(os.environ.get("BENCH_CPUWAIT_DIR", ".")) / f"worker-{os.getpid()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"episodes": _episodes, "stacks": _stacks.most_common(20)}))


def post_worker_init(worker) -> None:
    """Run the product's hook, then start the heart greenlet and the sampler thread."""
    if "post_worker_init" in _base:
        _base["post_worker_init"](worker)
    import atexit

    import gevent
    from gevent import monkey

    main = monkey.get_original("_thread", "get_ident")()
    path = f"/proc/{os.getpid()}/task/{os.getpid()}/schedstat"  # the main thread's
    gevent.spawn(_heart, path)
    monkey.get_original("_thread", "start_new_thread")(
        _sampler, (main, monkey.get_original("time", "sleep")))
    atexit.register(_dump)


def worker_exit(server, worker) -> None:
    """Write this worker's episodes and stacks."""
    _dump()
    if "worker_exit" in _base:
        _base["worker_exit"](server, worker)


def summary(directory: Path, since: float = 0.0, until: float = float("inf")) -> dict:
    """Episodes in [since, until] (epoch) over every worker: counts, worst, ran vs waited."""
    episodes = [e for f in sorted(directory.glob("worker-*.json"))
                for e in json.loads(f.read_text())["episodes"] if since <= e[0] <= until]
    late = sum(e[1] for e in episodes) or 1e-9
    return {"late_episodes": len(episodes),
            "over_20ms": sum(1 for e in episodes if e[1] > 0.02),
            "worst_ms": round(max((e[1] for e in episodes), default=0.0) * 1000, 1),
            "ran_share": round(sum(e[2] for e in episodes) / late, 2),
            "waited_share": round(sum(e[3] for e in episodes) / late, 2)}
