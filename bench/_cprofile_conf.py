"""gunicorn config for `media_bench --hook cprofile`: profile each worker, dump stats at exit.

Self times are meaningful under gevent; cumulative times of functions that switch greenlets
(waits, Hub.run) include other greenlets' work, so read them with care.
"""
from __future__ import annotations

import cProfile
import os

_profile = cProfile.Profile()


def post_worker_init(worker) -> None:
    """Start profiling once the worker is ready to serve."""
    _profile.enable()


def worker_exit(server, worker) -> None:
    """Write this worker's stats to $BENCH_HOOK_DIR/<app>-<pid>.prof."""
    _profile.disable()
    directory = os.environ["BENCH_HOOK_DIR"]
    os.makedirs(directory, exist_ok=True)
    _profile.dump_stats(os.path.join(directory, f"worker-{os.getpid()}.prof"))
