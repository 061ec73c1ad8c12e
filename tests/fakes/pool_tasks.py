"""Tasks for CPU-pool tests (importable by the pool's spawned processes)."""
from __future__ import annotations

import os


def wait_on_fifo(path: str) -> int:
    """Hold a pool slot until the test writes to the FIFO at `path`; returns the pid."""
    with open(path) as fifo:
        fifo.read()
    return os.getpid()


def priority() -> tuple[int, int, int]:
    """The pool process's (pid, niceness, scheduling policy)."""
    return os.getpid(), os.getpriority(os.PRIO_PROCESS, 0), os.sched_getscheduler(0)


def append_line(path: str, line: str) -> int:
    """Append `line` to the file at `path` (the order pool tasks ran in); returns the pid."""
    with open(path, "a") as log:
        log.write(line + "\n")
    return os.getpid()


def die() -> None:
    """End the pool process abruptly, as a crashing decoder would."""
    os._exit(1)
