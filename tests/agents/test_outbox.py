"""Outbox: a session's events, pulled or announced, with an end that loses nothing queued."""
from __future__ import annotations

import threading

from agents.base import AudioOut, ResponseDone
from agents.outbox import Outbox


def test_events_come_out_in_order_and_a_poll_of_an_empty_box_returns_none():
    box = Outbox()
    assert box.get(0) is None
    box.put(AudioOut("a", b"1"))
    box.put(ResponseDone("a"))
    assert box.get(0) == AudioOut("a", b"1")
    assert box.get(0) == ResponseDone("a")
    assert box.get(0) is None


def test_the_listener_is_told_after_each_event_and_at_the_end():
    box, told = Outbox(), []
    box.listen(lambda: told.append(box.get(0)))
    box.put(AudioOut("a", b"1"))
    box.end()
    assert told == [AudioOut("a", b"1"), None]
    assert box.finished


def test_listening_late_announces_what_is_already_queued():
    box, told = Outbox(), []
    box.put(AudioOut("a", b"1"))
    box.listen(lambda: told.append("told"))
    assert told == ["told"]
    box.listen(None)
    box.put(AudioOut("a", b"2"))
    assert told == ["told"]  # no listener: nobody is called


def test_events_queued_before_the_end_stay_readable_and_later_ones_are_dropped():
    box = Outbox()
    box.put(AudioOut("a", b"1"))
    box.end()
    box.put(AudioOut("a", b"2"))
    assert not Outbox().finished and box.finished
    assert box.get(0) == AudioOut("a", b"1")
    assert box.get(0) is None
    assert box.get(0) is None  # the end stays the end


def test_the_end_wakes_a_reader_blocked_in_get():
    box, got = Outbox(), []
    reader = threading.Thread(target=lambda: got.append(box.get(None)))
    reader.start()
    box.end()
    reader.join(timeout=5)
    assert not reader.is_alive() and got == [None]


def test_a_get_with_a_timeout_returns_none_when_nothing_comes():
    assert Outbox().get(0.01) is None
