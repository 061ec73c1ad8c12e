"""Recordings never lose, mix or truncate data: reversible names, reconnects, foreign sockets."""
from __future__ import annotations

import os
import wave

from hypothesis import given
from hypothesis import strategies as st

from conference.media.taps import Recordings, TapHub, _safe, unescape


@given(st.text(max_size=80))
def test_path_escaping_is_reversible_and_has_no_dots_or_separators(name):
    escaped = _safe(name)
    assert unescape(escaped) == name
    assert "." not in escaped and os.sep not in escaped and escaped


def test_look_alike_conference_names_get_distinct_folders():
    assert _safe("t1-col.x") != _safe("t1-col_x")


def frames_of(path: str) -> int:
    with wave.open(path, "rb") as wav:
        return wav.getnframes()


def test_a_reconnect_appends_and_the_old_socket_cannot_stop_it(tmp_path):
    hub = TapHub()
    rec = Recordings(hub, str(tmp_path))
    first = rec.start("CA1", "t1-room", "ai", owner="MZold")
    hub.publish("CA1", b"\xff" * 160)
    again = rec.start("CA1", "t1-room", "ai", owner="MZnew")  # the reconnect takes it over
    assert again == first
    assert rec.stop("CA1", owner="MZold") is None  # the fenced socket ends: no effect
    hub.publish("CA1", b"\xff" * 160)
    assert rec.stop("CA1", owner="MZnew") == first
    assert frames_of(first) == 320  # both sockets' audio, nothing truncated


def test_a_finished_recording_is_never_overwritten(tmp_path):
    hub = TapHub()
    rec = Recordings(hub, str(tmp_path))
    first = rec.start("CA1", "t1-room", "ai", owner="MZ1")
    hub.publish("CA1", b"\xff" * 160)
    rec.stop("CA1", owner="MZ1")
    second = rec.start("CA1", "t1-room", "ai", owner="MZ2")  # a later stream of the same call
    hub.publish("CA1", b"\xff" * 80)
    rec.stop("CA1", owner="MZ2")
    assert second != first and second.endswith("ai~r2.wav")
    assert (frames_of(first), frames_of(second)) == (160, 80)
