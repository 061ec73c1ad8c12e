"""CPU and memory of processes and of the machine, read from /proc (Linux only, no psutil)."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass

_TICK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read().decode()
    except OSError:
        return None
    # The command name may contain spaces and parentheses; fields start after the last ')'.
    return raw[raw.rindex(")") + 2 :].split()


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by `pid` (0 when it is gone)."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def runqueue_wait_seconds(pid: int) -> float:
    """Seconds `pid` spent runnable but waiting for a CPU (contention from other processes)."""
    try:
        with open(f"/proc/{pid}/schedstat", "rb") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def rss_bytes(pid: int) -> int:
    """Resident set size of `pid` in bytes (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except OSError:
        return 0


def children(pid: int) -> list[int]:
    """Direct children of `pid` (gunicorn workers of a master)."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            fields = _stat_fields(int(name))
            if fields is not None and int(fields[1]) == pid:
                found.append(int(name))
    return found


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


def gunicorn_workers(pid: int) -> list[int]:
    """The gunicorn workers of the server started as `pid` (sh -c, or the master itself)."""
    # sh -c "gunicorn ..." -> master -> workers: the gunicorn processes with no gunicorn child
    # (not the workers' CPU pools).
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        below = [c for c in children(p) if b"gunicorn" in _cmdline(c)]
        todo += below
        if not below and p != pid:
            found.append(p)
    return found


def family(pid: int) -> list[int]:
    """`pid` and its direct children."""
    return [pid, *children(pid)]


def machine_busy_seconds() -> tuple[float, float]:
    """(busy CPU seconds, total CPU seconds) summed over all cores since boot."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # excludes guest time, already counted in user
    return (total - idle) / _TICK, total / _TICK


@dataclass
class Sample:
    """A point-in-time reading of some processes and of the machine."""

    wall: float
    cpu: dict[int, float]
    wait: dict[int, float]
    machine_busy: float
    machine_total: float


def sample(pids: list[int]) -> Sample:
    """Read the CPU seconds of `pids` and of the whole machine now."""
    busy, total = machine_busy_seconds()
    return Sample(time.monotonic(), {p: cpu_seconds(p) for p in pids},
                  {p: runqueue_wait_seconds(p) for p in pids}, busy, total)


def cpu_percent(a: Sample, b: Sample, pids: list[int]) -> float:
    """CPU used by `pids` between samples a and b, in % of one core."""
    used = sum(b.cpu.get(p, 0.0) - a.cpu.get(p, 0.0) for p in pids)
    return 100.0 * used / max(b.wall - a.wall, 1e-9)


def wait_percent(a: Sample, b: Sample, pids: list[int]) -> float:
    """Time `pids` waited for a CPU between a and b, in % of the interval (summed)."""
    waited = sum(b.wait.get(p, 0.0) - a.wait.get(p, 0.0) for p in pids)
    return 100.0 * waited / max(b.wall - a.wall, 1e-9)


def machine_percent(a: Sample, b: Sample) -> float:
    """Whole-machine busy CPU between a and b, in % of one core (200% = both cores busy)."""
    cores = os.cpu_count() or 1
    share = (b.machine_busy - a.machine_busy) / max(b.machine_total - a.machine_total, 1e-9)
    return 100.0 * cores * share
