"""Barge-in delivery: the backend stops at once; the truncate reaches it once, with the
confirmed heard_ms."""
from __future__ import annotations

import pytest

from conference.media.playout import FRAME, PER_MS
from tests.support.barge_call import Call, speaking


def test_truncate_waits_for_the_echo_of_a_pending_mark():
    call = Call()
    speaking(call)
    assert call.barge_in("fork", 150)
    assert call.backend.interrupts == [] and call.events == []  # the clear is in flight
    assert call.tracker.push("a", bytes(FRAME)) is False  # but the item's audio stops now
    call.on_old_mark("g1-s1", 160)  # 100 ms: played before the clear arrived
    assert call.backend.interrupts == []
    call.on_old_mark("g1-s2", 190)  # 200 ms had not played: the clear was applied at 190
    call.on_old_mark("g1-s3", 190)  # the rest of the flushed burst
    assert call.backend.interrupts == [(190, "a")]
    ((event, payload),) = call.events
    assert (event, payload["heard_ms"], payload["source"]) == ("barge-in", 190, "fork")
    assert [cut.heard_ms for cut in call.observed] == [190]
    assert call.clear_watch is None


def test_no_echo_in_time_delivers_the_estimate():
    call = Call()
    speaking(call)
    call.barge_in("fork", 150)
    call.settle_clear(600)
    assert call.backend.interrupts == []
    call.settle_clear(650)
    assert call.backend.interrupts == [(150, "a")]
    call.on_old_mark("g1-s2", 700)  # too late: nothing more is delivered
    assert len(call.backend.interrupts) == 1


def test_without_pending_marks_the_estimate_is_delivered_at_once():
    call = Call()
    call.tracker.push("a", bytes(250 * PER_MS))
    call.tracker.pull(0)
    assert call.tracker.on_mark("g1-s2", 200)  # the 50 ms tail is unmarked
    call.barge_in("backend", 220, "customer")
    assert call.backend.interrupts == [(220, "a")]
    assert call.clear_watch is None


def test_a_new_barge_in_settles_the_unconfirmed_one_first():
    call = Call()
    speaking(call)
    call.barge_in("fork", 150)
    call.tracker.push("b", bytes(500 * PER_MS))
    call.tracker.pull(200)
    call.barge_in("fork", 260)
    assert call.backend.interrupts[0] == (150, "a")
    assert call.backend.interrupts[1:] == []  # b's cut waits for its own echo
    assert call.clear_watch is not None


def test_the_backend_stops_at_the_decision_before_any_mark_is_acknowledged():
    call = Call()
    speaking(call)
    call.barge_in("fork", 150)
    assert call.backend.calls == [("stop",)]  # the clear's marks are still outstanding
    call.on_old_mark("g1-s1", 160)
    call.on_old_mark("g1-s2", 190)
    assert call.backend.calls == [("stop",), ("truncate", 190, "a")]


def test_without_pending_marks_stop_then_truncate_at_once():
    call = Call()
    call.tracker.push("a", bytes(250 * PER_MS))
    call.tracker.pull(0)
    assert call.tracker.on_mark("g1-s2", 200)
    call.barge_in("backend", 220)
    assert call.backend.calls == [("stop",), ("truncate", 220, "a")]


class TruncateOnly:
    """A backend from before the split: no stop_response."""

    def __init__(self) -> None:
        self.interrupts: list[tuple[int, str | None]] = []

    def truncate(self, heard_ms: int, item_id: str | None = None) -> None:
        self.interrupts.append((heard_ms, item_id))


def test_a_backend_without_stop_support_is_still_truncated():
    call = Call(TruncateOnly())
    speaking(call)
    assert call.barge_in("fork", 150)
    call.on_old_mark("g1-s2", 190)
    assert call.backend.interrupts == [(190, "a")]
    assert call.failures == [] and call.session is call.backend


class StopFails(TruncateOnly):
    def stop_response(self) -> None:
        raise ConnectionError("backend gone (test)")


def test_a_failing_stop_never_ends_the_call():
    call = Call(StopFails())
    speaking(call)
    assert call.barge_in("fork", 150)
    assert call.failures == [] and call.session is call.backend  # the session is kept
    call.on_old_mark("g1-s2", 190)
    assert call.backend.interrupts == [(190, "a")]  # and still learns what was heard
    assert [event for event, _ in call.events] == ["barge-in"]


@pytest.mark.parametrize("ready", [False, True])
def test_no_backend_call_before_the_session_is_ready(ready):
    call = Call()
    call.ready = ready
    speaking(call)
    call.barge_in("fork", 150)
    call.on_old_mark("g1-s2", 190)
    assert bool(call.backend.calls) is ready
