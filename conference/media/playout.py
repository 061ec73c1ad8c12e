"""Sans-I/O mark-gated playout tracker for the AI leg's outbound audio.

Positions are bytes of 8 kHz mu-law on one outbound timeline (8 bytes = 1 ms). Audio goes out in
chunks of whole 20 ms frames while the unacknowledged lead stays under `lead_ms`; a mark named
`g<gen>-s<seq>` follows every ~`mark_interval_ms`. An echoed mark of the current generation proves
the audio before it played; `clear` bumps the generation so late marks and audio are ignored.
"""
from __future__ import annotations

from dataclasses import dataclass

FRAME = 160  # bytes in a 20 ms frame
PER_MS = 8  # bytes per millisecond
ECHO_SLACK = 100 * PER_MS  # how far past an echoed mark playout may plausibly be by its arrival


class Item:
    """Ledger of one AI response item on the outbound timeline."""

    __slots__ = ("item_id", "start", "generated", "sent", "acked", "dead")

    def __init__(self, item_id: str) -> None:
        self.item_id = item_id
        self.start = -1  # timeline position of the first byte sent, -1 until then
        self.generated = 0  # bytes the backend produced
        self.sent = 0  # bytes handed to the socket
        self.acked = 0  # bytes proven played by an echoed mark
        self.dead = False  # interrupted: later audio of this item is dropped


@dataclass(frozen=True, slots=True)
class Truncation:
    """What `clear` cut: the item that was playing and how much of it the caller heard."""

    item_id: str | None
    heard_ms: int
    flushed_ms: int


def advance(anchor: tuple[int, float], segments, now_ms: float) -> int:
    """Playout position at `now_ms`: `anchor` (position, time) advanced in real time through
    `segments` ((start, data, sent at, item), in order); audio plays no earlier than sent."""
    pos, t = anchor
    for start, data, sent_at, _ in segments:
        end = start + len(data)
        if end <= pos:
            continue
        begin = max(t, sent_at)
        if now_ms <= begin:
            return pos
        frm = max(pos, start)
        dur = (end - frm) / PER_MS
        if now_ms < begin + dur:
            return frm + int((now_ms - begin) * PER_MS)
        pos, t = end, begin + dur
    return pos


class PlayoutTracker:
    """Decides what to send, when to mark, and how much of each item was heard."""

    def __init__(self, lead_ms: int = 300, mark_interval_ms: int = 150, chunk_ms: int = 100):
        self.mark_every = max(FRAME, mark_interval_ms * PER_MS)
        # The lead must exceed the mark interval, or the tail could wait on a mark never sent.
        self.lead = max(self.mark_every + FRAME, lead_ms * PER_MS)
        # Soft bound: Twilio's estimated buffer depth stays under `lead`. Hard bound: never more
        # than `hard_lead` unacknowledged, even if the estimate runs ahead of a stalled playout.
        self.hard_lead = 2 * self.lead
        self.chunk = max(FRAME, (chunk_ms * PER_MS) // FRAME * FRAME)
        self.gen = 1
        self.seq = 0
        self.sent = 0  # timeline position of the end of sent audio
        self.acked = 0  # timeline position proven played
        self.unmarked = 0
        self.mark_tail = False
        self.last_item: Item | None = None
        self.items: dict[str, Item] = {}
        # Queued, unsent audio: one growing bytearray per run of an item's deltas, so seconds of
        # backlog cost their bytes, not a bytes object and a tuple per 20 ms delta.
        # Lists, not deques: they stay short (the leads bound what is sent and marked; pending
        # has one entry per run of an item), and an empty deque costs a 64-slot block (~650 B).
        self.pending: list[tuple[Item, bytearray]] = []
        self.segments: list[tuple[int, bytes, float, Item]] = []  # sent, not yet acked
        self.marks: list[tuple[int, int, float]] = []  # (seq, position, sent at)
        self.anchor = (0, float("-inf"))  # (position, time) known to be playing
        self.stale_marks = 0
        self.dropped_bytes = 0

    def push(self, item_id: str, ulaw: bytes) -> bool:
        """Queue AI audio; False (dropped) when the item was interrupted already."""
        item = self.items.get(item_id)
        if item is None:
            item = self.items[item_id] = Item(item_id)
            self._prune()
        if item.dead or not ulaw:
            self.dropped_bytes += len(ulaw)
            return False
        item.generated += len(ulaw)
        pending = self.pending
        if pending and pending[-1][0] is item:
            pending[-1][1].extend(ulaw)
        else:
            pending.append((item, bytearray(ulaw)))
        return True

    def end_item(self) -> None:
        """The backend finished the current item: mark its tail so the end gets acknowledged too."""
        self.mark_tail = True

    def pull(self, now_ms: float) -> list[tuple[str, bytes | str]]:
        """Outgoing actions allowed now: ("media", ulaw) and ("mark", name), in order."""
        out: list[tuple[str, bytes | str]] = []
        pending = self.pending
        while pending and (room := self._room(now_ms)) >= FRAME:
            item, queued = pending[0]
            limit = min(self.chunk, room // FRAME * FRAME)
            if item is not self.last_item and self.unmarked:
                out.append(("mark", self._mark(now_ms)))  # item boundary: ack items separately
            # One item's queued deltas are one buffer: a single 40-100 ms message from its head.
            take = min(limit, len(queued))
            data = bytes(queued[:take])
            if take < len(queued):
                del queued[:take]
            else:
                del pending[0]
            if item.start < 0:
                item.start = self.sent
            self.segments.append((self.sent, data, now_ms, item))
            self.sent += take
            item.sent += take
            self.unmarked += take
            self.last_item = item
            out.append(("media", data))
            if self.unmarked >= self.mark_every:
                out.append(("mark", self._mark(now_ms)))
        if self.mark_tail and not pending:
            self.mark_tail = False
            if self.unmarked:
                out.append(("mark", self._mark(now_ms)))
        return out

    def _room(self, now_ms: float) -> int:
        """Bytes that may go out now under the soft (estimated) and hard (acked) lead bounds."""
        unacked = self.sent - self.acked
        if unacked < self.lead:  # the common case: no need to estimate
            return self.lead - unacked
        hard = self.hard_lead - unacked
        return min(hard, self.lead - (self.sent - self.position(now_ms))) if hard > 0 else 0

    def _mark(self, now_ms: float) -> str:
        self.seq += 1
        self.marks.append((self.seq, self.sent, now_ms))
        self.unmarked = 0
        return f"g{self.gen}-s{self.seq}"

    def on_mark(self, name: str, now_ms: float) -> bool:
        """Apply an echoed mark; False when it is stale (old generation) or unknown."""
        gen, _, seq = name.partition("-s")
        if gen != f"g{self.gen}" or not seq.isdigit():
            self.stale_marks += 1
            return False
        seq_n = int(seq)
        if not self.marks or not self.marks[0][0] <= seq_n <= self.marks[-1][0]:
            self.stale_marks += 1
            return False
        marks, done = self.marks, 1
        while done < len(marks) and marks[done][0] <= seq_n:
            done += 1
        pos = marks[done - 1][1]
        del marks[:done]
        self._ack(pos, now_ms)
        return True

    def _ack(self, pos: int, now_ms: float) -> None:
        # An echo is a lower bound on the playout position: a late echo (a busy worker) must
        # not drag the estimate back, but an estimate far ahead (a stalled playout) is reset.
        estimate = self.position(now_ms)
        self.acked = max(self.acked, pos)
        self.anchor = (min(max(self.acked, estimate), self.acked + ECHO_SLACK), now_ms)
        segments, done = self.segments, 0
        for start, data, _, item in segments:
            if start + len(data) > self.acked:
                break
            done += 1
            if not item.dead:
                item.acked = min(item.sent, item.generated, start + len(data) - item.start)
        del segments[:done]

    def position(self, now_ms: float) -> int:
        """Estimated playout position: the last anchor, advanced in real time through sent audio."""
        return advance(self.anchor, self.segments, now_ms)

    def playing_item(self, now_ms: float) -> Item | None:
        """The item whose audio is at the estimated playout position, if any is still playing."""
        pos = self.position(now_ms)
        for start, data, _, item in self.segments:
            if start <= pos < start + len(data):
                return item
        return self.pending[0][0] if self.pending else None

    def heard_ms(self, item: Item, now_ms: float) -> int:
        """Milliseconds of `item` the caller heard: within [acked, sent], never above generated."""
        est = self.position(now_ms) - item.start if item.start >= 0 else 0
        heard = min(max(est, item.acked, 0), item.sent, item.generated)
        return heard // PER_MS

    def is_speaking(self, now_ms: float) -> bool:
        """True while AI audio is queued or still playing at the caller."""
        return bool(self.pending) or self.position(now_ms) < self.sent

    def clear(self, now_ms: float) -> Truncation:
        """Flush everything unplayed, bump the generation and report the truncation."""
        item = self.playing_item(now_ms)
        heard = self.heard_ms(item, now_ms) if item is not None else 0
        pos = self.position(now_ms)
        flushed = self.sent - pos + sum(len(d) for _, d in self.pending)
        for _, _, _, it in self.segments:
            it.dead = True
        for it, _ in self.pending:
            it.dead = True
        if item is not None:
            item.dead = True
        self.pending.clear()
        self.segments.clear()
        self.marks.clear()
        self.gen += 1
        self.unmarked = 0
        self.last_item, self.mark_tail = None, False
        self.acked = self.sent
        self.anchor = (self.sent, now_ms)
        return Truncation(item.item_id if item else None, heard, flushed // PER_MS)

    def rewind(self, now_ms: float) -> int:
        """A new socket took over: requeue unacknowledged audio in front; returns bytes requeued."""
        replay = [(item, bytearray(data)) for _, data, _, item in self.segments if not item.dead]
        for item, data in replay:
            item.sent -= len(data)
        pending = self.pending
        if replay and pending and pending[0][0] is replay[-1][0]:
            replay[-1][1].extend(pending.pop(0)[1])  # one buffer per run of an item
        pending[:0] = replay
        self.segments.clear()
        self.marks.clear()
        self.gen += 1
        self.sent = self.acked
        self.unmarked = 0
        self.last_item, self.mark_tail = None, False
        self.anchor = (self.acked, float("-inf"))
        return sum(len(d) for _, d in replay)

    def outstanding_marks(self) -> int:
        """Marks sent in this generation and not yet echoed."""
        return len(self.marks)

    def oldest_mark_age(self, now_ms: float) -> float:
        """How long the oldest unechoed mark has waited (0 when none is outstanding)."""
        return now_ms - self.marks[0][2] if self.marks else 0.0

    def _prune(self) -> None:
        # Bound memory on long calls: forget settled items beyond the most recent few.
        if len(self.items) > 64:
            live = {it.item_id for _, _, _, it in self.segments} | {
                it.item_id for it, _ in self.pending
            }
            for key in list(self.items)[:-16]:
                if key not in live:
                    del self.items[key]
