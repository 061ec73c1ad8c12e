"""A lane hands its process one task at a time: urgent work overtakes queued background work."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor, wait

import pytest

from agents.cpulane import Lane


class Recorder:
    """Tasks for a one-thread executor standing in for the pool process."""

    def __init__(self) -> None:
        self.ran: list[str] = []
        self.gate = threading.Event()

    def hold(self) -> str:
        self.gate.wait(10)
        self.ran.append("hold")
        return "hold"

    def note(self, name: str) -> str:
        self.ran.append(name)
        return name


@pytest.fixture
def lane():
    lane = Lane(lambda: ThreadPoolExecutor(1))  # type: ignore[arg-type, return-value]
    yield lane
    lane.shutdown()


def test_urgent_work_overtakes_queued_background_work(lane):
    rec = Recorder()
    first = lane.put(rec.hold, (), urgent=False)
    background = [lane.put(rec.note, (f"b{i}",), urgent=False) for i in range(3)]
    urgent = [lane.put(rec.note, (f"u{i}",), urgent=True) for i in range(2)]
    rec.gate.set()
    assert [f.result(10) for f in [first, *urgent, *background]] == [
        "hold", "u0", "u1", "b0", "b1", "b2"]
    assert rec.ran == ["hold", "u0", "u1", "b0", "b1", "b2"]
    assert lane.overtook == 2


def test_without_urgent_work_the_order_is_submission_order(lane):
    rec = Recorder()
    rec.gate.set()
    futures = [lane.put(rec.note, (name,), urgent=False) for name in "abcd"]
    assert [f.result(10) for f in futures] == list("abcd") and lane.overtook == 0


def test_a_failing_task_fails_its_future_and_the_lane_goes_on(lane):
    def boom() -> None:
        raise ValueError("decoder said no")

    bad = lane.put(boom, (), urgent=True)
    good = lane.put(str, ("next",), urgent=False)
    with pytest.raises(ValueError, match="decoder said no"):
        bad.result(10)
    assert good.result(10) == "next"


def test_shutdown_cancels_what_is_still_queued(lane):
    rec = Recorder()
    running = lane.put(rec.hold, (), urgent=False)
    queued = lane.put(rec.note, ("never",), urgent=True)
    closing = threading.Thread(target=lane.shutdown)
    closing.start()  # it cancels the queue at once, then joins the running task
    assert wait([queued], timeout=10).done == {queued} and queued.cancelled()
    rec.gate.set()
    closing.join(10)
    assert running.result(10) == "hold" and rec.ran == ["hold"]
    with pytest.raises(RuntimeError, match="shut down"):
        lane.put(rec.note, ("late",), urgent=False)
