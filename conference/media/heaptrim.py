"""Hand the C heap's free pages back to the OS now and then (glibc's malloc_trim).

glibc gives memory back on its own only from the top of its heap. The holes that calls leave
in the middle (a burst of setups, the per-frame churn of AI legs) stay resident until
malloc_trim(0) releases every whole free page in them (bench/README.md, memory per stream).
The call holds the worker for its duration (0.04 ms on a worker holding 130 AI streams;
forkline_heap_trim_seconds in production), so it runs at most once per MALLOC_TRIM_INTERVAL_S
(default 2 s) from the maintenance loop, never on the audio path.
"""
from __future__ import annotations

import ctypes
import time
from collections.abc import Callable


def glibc_malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, or None on another C library (musl, macOS): nothing to trim."""
    try:
        fn = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_size_t]
    fn.restype = ctypes.c_int
    return fn


class HeapTrimmer:
    """Calls `trim(0)` at most once per `interval_s` (0 or less: never); sans-I/O clock."""

    def __init__(self, interval_s: float, trim: Callable[[int], int] | None,
                 observe: Callable[[float], None], now: float) -> None:
        self.interval_s = interval_s
        self._trim = trim if interval_s > 0 else None
        self._observe = observe
        self._due = now + interval_s
        self.trims = 0

    def tick(self, now: float) -> bool:
        """Trim if due at `now` (monotonic seconds); True when it did."""
        if self._trim is None or now < self._due:
            return False
        self._due = now + self.interval_s
        started = time.perf_counter()
        self._trim(0)
        self._observe(time.perf_counter() - started)
        self.trims += 1
        return True
