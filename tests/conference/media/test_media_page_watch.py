"""The page-gone decision (sans-I/O): only a reachable Redis without the entry, for the whole
grace, means the page is gone; an outage restarts the grace."""
from __future__ import annotations

from conference.media.page_watch import PageGone


def test_absent_for_the_grace_is_gone():
    state = PageGone(grace_s=3.0)
    assert not state.observe(True, 0.0)
    assert not state.observe(False, 1.0)
    assert not state.observe(False, 3.9)
    assert state.observe(False, 4.0)


def test_a_renewal_restarts_the_grace():
    state = PageGone(grace_s=3.0)
    assert not state.observe(False, 0.0)
    assert not state.observe(True, 2.0)
    assert not state.observe(False, 4.0)
    assert not state.observe(False, 6.9)
    assert state.observe(False, 7.0)


def test_unreachable_never_counts_and_restarts_the_grace():
    state = PageGone(grace_s=3.0)
    assert not state.observe(False, 0.0)
    for now in (1.0, 5.0, 50.0):
        assert not state.observe(None, now)
    assert not state.observe(False, 51.0)  # Redis is back: the page gets the grace to renew
    assert not state.observe(None, 60.0)
    assert not state.observe(False, 61.0)
    assert state.observe(False, 64.0)
