"""Barge-in delivery: the truncate reaches the backend once, with the confirmed heard_ms."""
from __future__ import annotations

from typing import cast

from agents.base import AgentSession
from conference.media.barge import BargeIn
from conference.media.playout import FRAME, PER_MS, PlayoutTracker


class Session:
    def __init__(self) -> None:
        self.interrupts: list[tuple[int, str | None]] = []

    def interrupt(self, heard_ms: int, item_id: str | None = None) -> None:
        self.interrupts.append((heard_ms, item_id))


class Call(BargeIn):
    """The state BargeIn works on, without a media plane, socket or backend."""

    def __init__(self) -> None:
        self.tracker = PlayoutTracker(lead_ms=300, mark_interval_ms=100, chunk_ms=100)
        self.backend = Session()
        self.leg, self.session, self.ready = None, cast(AgentSession, self.backend), True
        self.clear_watch = None
        self.events: list[tuple[str, dict]] = []
        self.observed: list = []

    def failed(self, where: str, exc: BaseException | None) -> None:
        raise AssertionError(where)

    def record(self, event: str, payload: dict) -> None:
        self.events.append((event, payload))

    def _observe(self, event) -> None:
        self.observed.append(event)


def speaking(call: Call, ms: int = 1000) -> None:
    call.tracker.push("a", bytes(ms * PER_MS))
    call.tracker.pull(0)  # 300 ms sent, marks g1-s1..s3


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
