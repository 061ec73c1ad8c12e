"""Clocks and the drift-free ticker."""
from __future__ import annotations

import pytest

from twilio_sim.clock import RealClock, ScaledClock, Ticker, VirtualClock


def test_virtual_clock_only_moves_when_told():
    clock = VirtualClock(start=5.0, wall0=1000.0)
    assert clock.now() == 5.0 and clock.wall() == 1000.0
    clock.sleep_until(7.5)
    clock.sleep_until(6.0)  # never backwards
    clock.advance(0.5)
    assert clock.now() == 8.0 and clock.wall() == 1003.0


def test_scaled_clock_runs_faster_than_real_time():
    real, fast = RealClock(), ScaledClock(rate=50)
    fast.sleep(1.0)  # one simulated second
    assert fast.now() >= 1.0
    assert real.now() < fast.now() / 5  # far less than a real second went by
    assert fast.wall() > real.wall()


def test_scaled_clock_rejects_non_positive_rate():
    with pytest.raises(ValueError):
        ScaledClock(rate=0)


def test_ticker_on_a_virtual_clock_sleeps_to_each_deadline():
    clock = VirtualClock()
    ticker = Ticker(clock)
    ticks = [(ticker.wait_next(), clock.now()) for _ in range(5)]
    assert [t for t, _ in ticks] == [0, 1, 2, 3, 4]
    assert [now for _, now in ticks] == pytest.approx([0.0, 0.02, 0.04, 0.06, 0.08])
    assert ticker.late_ticks == 0


def test_ticker_catches_up_without_drift_after_a_stall():
    clock = VirtualClock()
    ticker = Ticker(clock)
    ticker.wait_next()
    clock.advance(0.1)  # a 100 ms stall: ticks 1..5 are overdue
    seen = []
    while clock.now() < 0.1 + 1e-9 and len(seen) < 10:
        seen.append(ticker.wait_next())
        if clock.now() > 0.1:
            break
    # Overdue ticks run back to back (no sleeping) until the grid is reached again.
    assert seen[:5] == [1, 2, 3, 4, 5]
    assert ticker.late_ticks == 4  # ticks 1-4 were more than one period late
    assert ticker.max_lag == pytest.approx(0.08)
    assert ticker.wait_next() == seen[-1] + 1
    assert clock.now() == pytest.approx(ticker.deadline(seen[-1] + 1))


def test_ticker_skips_ahead_after_a_long_stall():
    clock = VirtualClock()
    ticker = Ticker(clock, max_behind=0.5)
    ticker.wait_next()
    clock.advance(2.0)
    tick = ticker.wait_next()
    assert tick == 100 and ticker.skipped_ticks == 99
    assert ticker.wait_next() == 101
    assert clock.now() == pytest.approx(ticker.deadline(101))


def test_ticker_on_scaled_clock_is_never_early():
    clock = ScaledClock(rate=20)
    ticker = Ticker(clock)
    for _ in range(50):
        tick = ticker.wait_next()
        assert clock.now() >= ticker.deadline(tick)
    assert ticker.tick == 50
