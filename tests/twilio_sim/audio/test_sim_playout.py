"""Twilio playout buffer rules: order, real-time pacing, mark echo timing, clear."""
from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from twilio_sim.audio import SILENCE
from twilio_sim.playout import PlayoutBuffer


def test_mark_on_empty_buffer_is_echoed_at_once():
    buf = PlayoutBuffer()
    assert buf.push_mark("m0") == ["m0"]
    assert buf.pending_marks == []
    assert buf.next_frame() == (SILENCE, [])


def test_mark_is_echoed_once_the_frame_that_finishes_its_audio_has_played():
    # websocket-messages#mark-message: "when that media message's playback is complete"
    buf = PlayoutBuffer()
    buf.push_media(b"\x01" * 400)  # 2.5 frames
    assert buf.push_mark("m1") == []
    assert buf.next_frame() == (b"\x01" * 160, [])
    assert buf.next_frame() == (b"\x01" * 160, [])
    assert buf.next_frame() == (b"\x01" * 80 + SILENCE[80:], [])  # its last frame starts
    assert buf.pending_marks == ["m1"]
    assert buf.next_frame() == (SILENCE, ["m1"])  # ...and has played 20 ms later
    assert buf.underruns == 1
    assert buf.next_frame() == (SILENCE, [])


def test_audio_after_a_mark_does_not_delay_it():
    buf = PlayoutBuffer()
    buf.push_media(b"\x01" * 160)
    buf.push_mark("first")
    buf.push_media(b"\x02" * 320)
    buf.push_mark("second")
    assert buf.next_frame() == (b"\x01" * 160, [])
    assert buf.next_frame() == (b"\x02" * 160, ["first"])
    assert buf.next_frame() == (b"\x02" * 160, [])
    assert buf.next_frame() == (SILENCE, ["second"])


def test_consecutive_marks_complete_together_in_order():
    buf = PlayoutBuffer()
    buf.push_media(b"\x01" * 160)
    buf.push_mark("a")
    buf.push_mark("b")
    assert buf.next_frame()[1] == []
    assert buf.next_frame()[1] == ["a", "b"]


def test_a_mark_arriving_while_the_last_frame_plays_waits_for_it():
    buf = PlayoutBuffer()
    buf.push_media(b"\x01" * 160)
    assert buf.next_frame() == (b"\x01" * 160, [])
    assert buf.push_mark("late") == []  # nothing queued, but a frame is still playing
    assert buf.next_frame() == (SILENCE, ["late"])
    assert buf.push_mark("idle") == ["idle"]


def test_playout_start_delay_holds_new_audio_after_an_idle_buffer():
    buf = PlayoutBuffer(start_delay_frames=2)
    buf.push_media(b"\x01" * 320)
    buf.push_mark("m")
    assert [buf.next_frame()[0] for _ in range(2)] == [SILENCE, SILENCE]
    assert buf.next_frame() == (b"\x01" * 160, [])
    buf.push_media(b"\x02" * 160)  # the buffer never ran dry: no new delay
    assert buf.next_frame() == (b"\x01" * 160, [])
    assert buf.next_frame() == (b"\x02" * 160, ["m"])


def test_clear_drops_audio_and_echoes_every_pending_mark():
    buf = PlayoutBuffer()
    buf.push_media(b"\x01" * 800)
    buf.push_mark("a")
    buf.push_media(b"\x02" * 800)
    buf.push_mark("b")
    buf.next_frame()
    assert buf.clear() == ["a", "b"]
    assert buf.buffered_bytes == 0 and buf.pending_marks == []
    assert buf.next_frame() == (SILENCE, [])
    assert buf.push_mark("c") == ["c"]  # buffer is empty again


def test_heard_bytes_count_only_audio_that_played():
    buf = PlayoutBuffer(start_delay_frames=1)
    buf.push_media(b"\x01" * 400)  # 2.5 frames
    buf.next_frame()  # the start delay: silence, nothing heard
    assert buf.heard_bytes == 0
    buf.next_frame()
    buf.next_frame()
    assert buf.heard_bytes == 320
    buf.clear()  # the last half frame never played
    buf.next_frame()
    assert buf.heard_bytes == 320


def test_more_than_ten_minutes_is_discarded():
    buf = PlayoutBuffer(max_bytes=1000)
    assert buf.push_media(b"\x01" * 900)
    assert not buf.push_media(b"\x01" * 200)
    assert buf.buffered_bytes == 900 and buf.discarded_bytes == 200
    assert buf.buffered_ms == 112


class PlayoutModel(RuleBasedStateMachine):
    """Compare the buffer with a byte-by-byte reference model of Twilio's rules."""

    def __init__(self):
        super().__init__()
        self.buf = PlayoutBuffer()
        self.queue: list = []  # reference: ints (audio bytes) and str (marks), in arrival order
        self.echoed: list[str] = []
        self.sent_marks: list[str] = []
        self.finishing: list[str] = []  # marks done once the frame now playing has played
        self.playing = False
        self.counter = 0

    @rule(data=st.binary(min_size=1, max_size=500))
    def media(self, data):
        assert self.buf.push_media(data)
        self.queue.extend(data)

    @rule()
    def mark(self):
        name = f"m{self.counter}"
        self.counter += 1
        self.sent_marks.append(name)
        empty = not any(isinstance(x, int) for x in self.queue)
        got = self.buf.push_mark(name)
        if empty and not self.playing:
            assert got == [name]  # immediate echo: nothing buffered or playing
            self.echoed.append(name)
        elif empty:
            assert got == []
            self.finishing.append(name)
        else:
            assert got == []
            self.queue.append(name)

    @rule()
    def tick(self):
        frame, done = self.buf.next_frame()
        assert done == self.finishing  # the previous frame has finished playing
        self.echoed.extend(done)
        played, finishing = [], []
        while self.queue and (isinstance(self.queue[0], str) or len(played) < 160):
            item = self.queue.pop(0)
            (finishing if isinstance(item, str) else played).append(item)
        # Marks right after the frame's last byte complete with it too.
        while self.queue and isinstance(self.queue[0], str):
            finishing.append(self.queue.pop(0))
        assert frame == bytes(played) + SILENCE[len(played):]
        self.finishing, self.playing = finishing, bool(played)

    @precondition(lambda self: self.queue or self.finishing)
    @rule()
    def clear(self):
        done = self.buf.clear()
        assert done == self.finishing + [x for x in self.queue if isinstance(x, str)]
        self.queue.clear()
        self.finishing, self.playing = [], False
        self.echoed.extend(done)

    @invariant()
    def marks_echo_in_order_exactly_once(self):
        assert self.echoed == self.sent_marks[:len(self.echoed)]
        assert self.buf.pending_marks == self.finishing + [
            x for x in self.queue if isinstance(x, str)]
        assert self.buf.buffered_bytes == sum(isinstance(x, int) for x in self.queue)


TestPlayoutModel = PlayoutModel.TestCase
