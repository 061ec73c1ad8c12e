"""Simulator clocks (real, accelerated, virtual) and a drift-free 20 ms ticker.

Every clock has `now()` (monotonic seconds of simulated time), `wall()` (simulated epoch
seconds, for callback timestamps), `sleep_until(t)` and `rate` (simulated seconds per real
second). Sleeping uses `time.sleep`, which gevent's monkey patching turns into a cooperative
sleep, so this module never imports gevent.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Protocol

TICK_SECONDS = 0.020


class Clock(Protocol):
    rate: float

    def now(self) -> float: ...
    def wall(self) -> float: ...
    def sleep_until(self, t: float) -> None: ...


class ScaledClock:
    """Simulated time runs `rate` times faster than real time (rate=20: 60 s take 3 s)."""

    def __init__(self, rate: float = 1.0) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = float(rate)
        self._real0 = time.monotonic()
        self._wall0 = time.time()

    def now(self) -> float:
        """Simulated monotonic seconds since the clock was made."""
        return (time.monotonic() - self._real0) * self.rate

    def wall(self) -> float:
        """Simulated Unix time."""
        return self._wall0 + self.now()

    def sleep_until(self, t: float) -> None:
        """Block (cooperatively under gevent) until simulated time `t`."""
        delay = (t - self.now()) / self.rate
        if delay > 0:
            time.sleep(delay)

    def sleep(self, seconds: float) -> None:
        """Sleep `seconds` of simulated time."""
        self.sleep_until(self.now() + seconds)


class RealClock(ScaledClock):
    """Real time: the default."""

    def __init__(self) -> None:
        super().__init__(1.0)


class VirtualClock:
    """Time that moves only when someone sleeps or calls `advance`: tests run instantly."""

    rate = float("inf")

    def __init__(self, start: float = 0.0, wall0: float = 1_700_000_000.0) -> None:
        self._t = start
        self._wall0 = wall0 - start

    def now(self) -> float:
        """Current virtual time."""
        return self._t

    def wall(self) -> float:
        """Virtual Unix time."""
        return self._wall0 + self._t

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self._t += max(0.0, seconds)

    def sleep_until(self, t: float) -> None:
        """Jump straight to `t` (never backwards)."""
        self._t = max(self._t, t)

    def sleep(self, seconds: float) -> None:
        """Jump forward by `seconds`."""
        self.advance(seconds)


class Ticker:
    """Yields tick numbers on a fixed grid (start + n * period), so errors never accumulate.

    A tick that begins more than one period after its deadline counts as late; the ticker
    then runs the missed ticks back to back to catch up. If it falls more than `max_behind`
    seconds behind (a stalled process), it skips ahead instead and counts `skipped_ticks`.
    """

    def __init__(self, clock: Clock, period: float = TICK_SECONDS, *,
                 max_behind: float = 1.0, start: float | None = None) -> None:
        self.clock = clock
        self.period = period
        self.max_behind = max_behind
        self.start = clock.now() if start is None else start
        self.tick = 0  # number of the next tick
        self.late_ticks = 0
        self.skipped_ticks = 0
        self.max_lag = 0.0  # worst lateness seen, in simulated seconds

    def deadline(self, tick: int) -> float:
        """Simulated time at which tick number `tick` is due."""
        return self.start + tick * self.period

    def wait_next(self) -> int:
        """Sleep until the next tick is due and return its number."""
        due = self.deadline(self.tick)
        lag = self.clock.now() - due
        if lag < 0:
            self.clock.sleep_until(due)
        else:
            self.max_lag = max(self.max_lag, lag)
            if lag > self.period:
                self.late_ticks += 1
            if lag > self.max_behind:
                # Jump to the latest tick already due; the epsilon absorbs float error.
                current = int((self.clock.now() - self.start) / self.period + 1e-9)
                self.skipped_ticks += current - self.tick
                self.tick = current
        tick = self.tick
        self.tick += 1
        return tick

    def __iter__(self) -> Iterator[int]:
        while True:
            yield self.wait_next()
