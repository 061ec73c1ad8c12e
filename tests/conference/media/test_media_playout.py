"""Playout tracker: lead bound, mark naming, acknowledged vs generated, generation fencing,
and the clear's confirmation by the echo of its pending marks (clearwatch)."""
from __future__ import annotations

import tracemalloc

from hypothesis import given, settings
from hypothesis import strategies as st

from conference.media.clearwatch import ClearWatch
from conference.media.playout import FRAME, PER_MS, PlayoutTracker


def sent_bytes(actions):
    return sum(len(p) for kind, p in actions if kind == "media")


def marks(actions):
    return [p for kind, p in actions if kind == "mark"]


def test_lead_is_bounded_and_marks_are_named():
    tr = PlayoutTracker(lead_ms=300, mark_interval_ms=150, chunk_ms=100)
    tr.push("item1", bytes(FRAME * 50))  # 1 s
    out = tr.pull(0)
    assert sent_bytes(out) == 300 * PER_MS
    assert all(len(p) <= 100 * PER_MS for k, p in out if k == "media")
    assert marks(out) == ["g1-s1"]  # marks fall on chunk boundaries: here every 200 ms
    assert tr.pull(1) == []  # Twilio holds ~300 ms: nothing more yet
    assert sent_bytes(tr.pull(60)) == 60 * PER_MS  # the estimated playout moved on 60 ms
    tr.pull(10_000)  # a stalled playout (no echo for 10 s) ...
    assert tr.sent - tr.acked == tr.hard_lead  # ... gets at most 2 x lead unacknowledged
    assert tr.pull(20_000) == []
    assert tr.on_mark("g1-s1", 20_100)  # playout resumes: 200 ms played
    assert tr.items["item1"].acked == 200 * PER_MS
    # The estimate ran ahead during the stall; the echo resets it to at most 100 ms past the
    # mark, so Twilio is believed to hold 300 ms: nothing goes out yet.
    assert tr.pull(20_101) == []
    # 150 ms later it holds 150 ms: 150 ms of room, sent as whole frames
    assert sent_bytes(tr.pull(20_250)) == 140 * PER_MS


def test_heard_interpolates_between_marks_and_caps_at_sent():
    tr = PlayoutTracker(lead_ms=300, mark_interval_ms=150)
    tr.push("a", bytes(FRAME * 50))
    tr.pull(1000)
    item = tr.items["a"]
    assert tr.heard_ms(item, 1000) == 0
    assert tr.heard_ms(item, 1070) == 70
    tr.on_mark("g1-s1", 1210)  # 200 ms played by 1210: the real-time estimate (210) stands
    assert tr.heard_ms(item, 1210) == 210
    assert tr.heard_ms(item, 1250) == 250
    assert tr.heard_ms(item, 5000) == 300  # never beyond what was sent


def test_clear_fences_old_generation():
    tr = PlayoutTracker(lead_ms=300, mark_interval_ms=100)
    tr.push("a", bytes(FRAME * 50))
    tr.pull(0)
    cut = tr.clear(120)
    assert (cut.item_id, cut.heard_ms) == ("a", 120)
    assert cut.flushed_ms == 1000 - 120
    assert tr.on_mark("g1-s1", 130) is False  # Twilio flushes pending marks after clear
    assert tr.items["a"].acked == 0
    assert tr.push("a", bytes(FRAME)) is False  # late audio of the interrupted item
    assert tr.push("b", bytes(FRAME * 5))
    out = tr.pull(200)
    assert marks(out) == ["g2-s4"]  # seq keeps counting; the generation changed
    assert not tr.is_speaking(200 + 100 + 1) or tr.pending


def test_item_boundary_and_tail_marks():
    tr = PlayoutTracker(lead_ms=1000, mark_interval_ms=200)
    tr.push("a", bytes(FRAME * 2))
    tr.push("b", bytes(FRAME * 2))
    out = tr.pull(0)
    assert [k for k, _ in out] == ["media", "mark", "media"]
    tr.end_item()
    assert marks(tr.pull(1)) == ["g1-s2"]
    tr.on_mark("g1-s2", 90)
    assert (tr.items["a"].acked, tr.items["b"].acked) == (FRAME * 2, FRAME * 2)


def test_rewind_requeues_unacknowledged_audio():
    tr = PlayoutTracker(lead_ms=300, mark_interval_ms=100)
    audio = bytes(range(160)) * 10
    tr.push("a", audio)
    first = tr.pull(0)
    tr.on_mark("g1-s1", 100)
    requeued = tr.rewind(150)
    assert requeued == sent_bytes(first) - 100 * PER_MS
    resent = b"".join(p for k, p in tr.pull(160) if k == "media")
    assert resent == audio[100 * PER_MS: 100 * PER_MS + len(resent)]
    assert tr.gen == 2


ops = st.lists(
    st.one_of(
        st.tuples(st.just("push"), st.sampled_from("abc"), st.integers(1, 40)),
        st.tuples(st.just("pull"), st.integers(0, 50)),
        st.tuples(st.just("echo"), st.integers(0, 3)),
        st.tuples(st.just("stale"), st.integers(0, 30)),
        st.tuples(st.just("clear"), st.integers(0, 50)),
        st.tuples(st.just("rewind"), st.integers(0, 50)),
        st.tuples(st.just("end"), st.sampled_from("abc")),
    ),
    max_size=80,
)


def test_a_long_backlog_costs_its_audio_not_an_object_per_delta():
    # A backend that speaks ahead queues seconds of 20 ms deltas: they are held as one buffer
    # per item (what pull() coalesces anyway), not as a bytes object and a tuple per delta.
    tr = PlayoutTracker(lead_ms=300, mark_interval_ms=150, chunk_ms=100)
    tracemalloc.start()
    try:
        for i in range(500):  # 10 s
            tr.push("item1", bytes([i % 256]) * FRAME)
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert held < 500 * FRAME * 1.2  # per-delta objects would add ~60%
    out = tr.pull(0)
    expected = b"".join(bytes([i % 256]) * FRAME for i in range(15))
    assert b"".join(p for kind, p in out if kind == "media") == expected
    assert all(type(p) is bytes for kind, p in out if kind == "media")
    tr.push("item2", bytes(FRAME))
    assert [item.item_id for item, _ in tr.pending] == ["item1", "item2"]
    assert len(tr.pending[0][1]) == (500 - 15) * FRAME


@settings(max_examples=300, deadline=None)
@given(ops, st.integers(100, 600), st.integers(40, 250))
def test_acknowledged_never_exceeds_generated(script, lead_ms, mark_ms):
    tr = PlayoutTracker(lead_ms=lead_ms, mark_interval_ms=mark_ms)
    now, sent_marks = 0.0, []
    for op in script:
        kind = op[0]
        if kind == "push":
            tr.push(op[1] + str(tr.gen // 3), bytes(FRAME * op[2]))
        elif kind == "pull":
            now += op[1]
            out = tr.pull(now)
            sent_marks += marks(out)
            assert tr.sent - tr.acked <= tr.hard_lead + tr.chunk
        elif kind == "echo" and sent_marks:
            name = sent_marks.pop(0)
            before = {k: it.acked for k, it in tr.items.items()}
            accepted = tr.on_mark(name, now)
            if not name.startswith(f"g{tr.gen}-"):
                assert not accepted
                assert before == {k: it.acked for k, it in tr.items.items()}
        elif kind == "stale":
            before = {k: it.acked for k, it in tr.items.items()}
            assert not tr.on_mark(f"g{tr.gen - 1}-s{op[1]}", now)
            assert before == {k: it.acked for k, it in tr.items.items()}
        elif kind == "clear":
            now += op[1]
            cut = tr.clear(now)
            assert cut.heard_ms >= 0
            if cut.item_id is not None:
                it = tr.items[cut.item_id]
                assert cut.heard_ms * PER_MS <= it.generated
                assert cut.heard_ms * PER_MS <= it.sent
        elif kind == "rewind":
            tr.rewind(now)
        else:
            tr.end_item()
        for it in tr.items.values():
            assert 0 <= it.acked <= it.sent <= it.generated
            assert 0 <= tr.heard_ms(it, now) * PER_MS <= it.generated
        assert tr.acked <= tr.sent


def speaking_then_cut(at_ms):
    """1 s of item "a", marks every 100 ms, 400 ms sent, s1 echoed at 100; cut at `at_ms`."""
    tr = PlayoutTracker(lead_ms=300, mark_interval_ms=100, chunk_ms=100)
    tr.push("a", bytes(FRAME * 50))
    assert marks(tr.pull(0)) == ["g1-s1", "g1-s2", "g1-s3"]
    assert tr.on_mark("g1-s1", 100)
    assert marks(tr.pull(100)) == ["g1-s4"]
    watch = ClearWatch.begin(tr, at_ms)
    assert watch is not None
    watch.fallback = tr.clear(at_ms)
    return tr, watch


def test_clear_is_confirmed_by_the_first_echo_of_an_unplayed_mark():
    tr, watch = speaking_then_cut(150)
    assert watch.fallback.heard_ms == 150  # the estimate when the clear was sent
    assert tr.on_mark("g1-s2", 200) is False  # the tracker's generation moved on ...
    assert watch.on_mark("g1-s2", 200) is None  # ... but s2 did play: the clear is in flight
    # The clear lands at 260: Twilio flushes s3 and s4 at once. s3 (300 ms) had not played,
    # so playout stopped at 260 ms (s2 at 200 ms plus 60 ms), not at s3's end.
    cut = watch.on_mark("g1-s3", 260)
    assert (cut.item_id, cut.heard_ms, cut.flushed_ms) == ("a", 260, 1000 - 260)
    assert watch.on_mark("g1-s4", 260) is None  # the rest of the burst changes nothing


def test_clear_confirmation_ignores_other_generations_and_unknown_marks():
    _, watch = speaking_then_cut(150)
    assert watch.on_mark("g2-s5", 300) is None
    assert watch.on_mark("g1-s9", 300) is None
    assert watch.on_mark("g1-sX", 300) is None
    assert watch.on_mark("g1-s3", 280).heard_ms == 280


def test_clear_confirmation_never_reports_less_than_the_estimate():
    _, watch = speaking_then_cut(390)
    assert watch.fallback.heard_ms == 390
    # A stalled playout: s2 comes late, which pulls the position back to 300 ms; s4 is
    # flushed there. The caller heard at least the 390 ms estimated when the clear was sent.
    assert watch.on_mark("g1-s2", 500) is None
    assert watch.on_mark("g1-s3", 500) is None  # 300 ms: played, by the pulled-back position
    assert watch.on_mark("g1-s4", 500).heard_ms == 390


def test_clear_confirmation_when_every_pending_mark_had_played():
    _, watch = speaking_then_cut(150)
    assert watch.on_mark("g1-s3", 300) is None  # s2, s3 played before the clear arrived
    # The last pending mark played too: nothing more will come, the position then is final.
    assert watch.on_mark("g1-s4", 400).heard_ms == 400


def test_clear_confirmation_times_out_to_the_estimate():
    _, watch = speaking_then_cut(150)
    assert watch.expired(150 + 499) is None
    assert watch.expired(150 + 500) == watch.fallback  # no echo came: today's estimate


def test_no_pending_marks_means_nothing_to_confirm():
    tr = PlayoutTracker(lead_ms=300, mark_interval_ms=100, chunk_ms=100)
    tr.push("a", bytes(250 * PER_MS))  # an unmarked 50 ms tail (the item has not ended)
    assert marks(tr.pull(0)) == ["g1-s1", "g1-s2"]
    assert tr.on_mark("g1-s2", 200)
    assert tr.is_speaking(220)
    assert ClearWatch.begin(tr, 220) is None  # the estimate at the decision is final
