"""Loop-stall monitor: the longest gevent hub block per interval, as a /metrics histogram.

A greenlet sleeps a short tick and measures how late it wakes: the lateness is how long the hub
could not run timers, which is exactly what a paced audio greenlet (playout) suffers. One wakeup
per tick is the whole cost (no switch tracing, no extra native thread). A block of X ms is seen
as at least X - tick (it may start while the monitor sleeps).
"""
from __future__ import annotations

import contextlib
import time

from prometheus_client import Histogram

from conference.media.metrics import REGISTRY

LOOP_STALL = Histogram(
    "forkline_loop_stall_seconds", "Longest gevent hub block (timer lateness) per interval",
    buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.04, 0.1, 0.25, 0.5, 1.0, 2.5),
    registry=REGISTRY,
)
TICK_S = 0.01
WINDOW_S = 1.0


class StallMeter:
    """Sans-I/O: lateness of fixed sleeps folded into the worst one per window."""

    __slots__ = ("tick_s", "window_s", "worst", "elapsed")

    def __init__(self, tick_s: float = TICK_S, window_s: float = WINDOW_S) -> None:
        self.tick_s, self.window_s = tick_s, window_s
        self.worst, self.elapsed = 0.0, 0.0

    def observe(self, slept_s: float) -> float | None:
        """Account one sleep of `slept_s` wall time; the window's worst stall once it closes."""
        self.worst = max(self.worst, slept_s - self.tick_s)
        self.elapsed += slept_s
        if self.elapsed < self.window_s:
            return None
        worst, self.worst, self.elapsed = self.worst, 0.0, 0.0
        return worst


class LoopStallMonitor:
    """The I/O shell: a greenlet on the hub feeding a StallMeter into LOOP_STALL."""

    def __init__(self, tick_s: float = TICK_S, window_s: float = WINDOW_S,
                 histogram: Histogram = LOOP_STALL) -> None:
        self.meter = StallMeter(tick_s, window_s)
        self.histogram = histogram
        self.last: float | None = None  # the latest window's worst stall, for benches
        self.on_window: list = []  # called once per window (cheap publishers of gauges)
        self._greenlet = None

    def start(self) -> LoopStallMonitor:
        """Spawn the monitoring greenlet (idempotent)."""
        import gevent

        if self._greenlet is None:
            self._greenlet = gevent.spawn(self._run)
        return self

    def stop(self) -> None:
        """Kill the monitoring greenlet."""
        if self._greenlet is not None:
            self._greenlet.kill(block=False)
            self._greenlet = None

    def _run(self) -> None:
        import gevent

        tick, before = self.meter.tick_s, time.perf_counter()
        while True:
            gevent.sleep(tick)
            now = time.perf_counter()
            worst = self.meter.observe(now - before)
            before = now
            if worst is not None:
                self.last = max(0.0, worst)
                self.histogram.observe(self.last)
                for publish in self.on_window:
                    with contextlib.suppress(Exception):  # a gauge must not end the monitor
                        publish()


def start_if_gevent(extensions: dict) -> LoopStallMonitor | None:
    """Start one monitor per worker when the hub is what serves (gevent-patched threading)."""
    from gevent import monkey

    if not monkey.is_module_patched("threading"):
        return None  # no hub to watch: threads are real and the GIL preempts them
    monitor = extensions.get("loop_stall")
    if monitor is None:
        monitor = extensions["loop_stall"] = LoopStallMonitor().start()
    return monitor
