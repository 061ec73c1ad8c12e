"""Stream state machine: phases, gaps, late frames, foreign sids; duplicate-socket fencing."""
from __future__ import annotations

from conference.media.codec import Connected, Malformed, Media, Start, Stop
from conference.media.stream_state import STARTED, STOPPED, Rejected, StreamState, StreamTable

SID = "MZ1"


def start(seq=1, sid=SID):
    return Start(seq, sid, "AC1", "CA1", ("inbound",), {})


def media(seq, sid=SID):
    return Media(seq, sid, "inbound", seq, seq * 20, b"\xff" * 160)


def test_happy_path_and_gaps():
    st = StreamState()
    assert st.receive(Connected("Call", "1.0.0")) == Connected("Call", "1.0.0")
    assert st.receive(start()) == start()
    assert st.phase == STARTED
    for seq in (2, 3, 6):
        assert isinstance(st.receive(media(seq)), Media)
    assert st.gaps == 2
    assert st.receive(Stop(7, SID, "CA1")) == Stop(7, SID, "CA1")
    assert st.phase == STOPPED


def test_rejections_are_counted():
    st = StreamState()
    assert st.receive(media(2)) == Rejected("media_before_start")
    st.receive(start())
    assert st.receive(start(2)) == Rejected("second_start")
    assert st.receive(media(3, sid="MZ-other")) == Rejected("foreign_stream_sid")
    st.receive(media(4))
    assert st.receive(media(4)) == Rejected("late_sequence")
    assert st.late == 1
    assert isinstance(st.receive(Malformed("not_json")), Malformed)
    st.receive(Stop(9, SID, "CA1"))
    assert st.receive(media(10)) == Rejected("media_after_stop")
    assert st.rejected == 6


def test_start_without_connected_is_accepted():
    st = StreamState()
    assert st.receive(start()) == start()


def test_newer_socket_wins():
    table = StreamTable()
    old, new = object(), object()
    assert table.claim(("CA1", "ai"), old) is None
    assert table.claim(("CA1", "ai"), new) is old
    assert not table.owns(("CA1", "ai"), old)
    assert table.release(("CA1", "ai"), old) is False  # the fenced socket releases nothing
    assert table.owner(("CA1", "ai")) is new
    assert table.release(("CA1", "ai"), new) is True
    assert len(table) == 0
