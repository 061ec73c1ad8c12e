"""Socket side of the AI leg: inbound audio to the backend, exactly one writer for all output.

One sender per socket, by design: on a FastSocket under gevent the socket's read loop is also its
only writer (`FastSocket.own_writes`): whoever has output (the backend reader, a barge-in, an
echoed mark) calls `wake.set()`, which pokes the read loop, and it runs `_flush` before it next
sleeps. Elsewhere a dedicated sender greenlet runs `_flush` on each wake. Nothing else writes
media, marks or clear (fence() only closes a superseded socket).
"""
from __future__ import annotations

import contextlib
import threading

from conference.logs import get_logger, monotonic_ms
from conference.media import metrics, statesink
from conference.media.codec import Encoder, Media, Start
from conference.media.live_call import LiveCall
from conference.media.registry import MediaPlane, conf_key

log = get_logger("media.ai_leg")
DROP_AFTER_MS = 5000.0  # marks outstanding this long at a stop / socket loss mean a drop


def recording_folder(info: dict) -> str:
    """Recordings of a conference go under t<tenant>-<conference> (names repeat across tenants)."""
    return f"t{info.get('tenant') or '_'}-{info.get('conference') or '_'}"


class AiLeg:
    """One `/twilio/ai-stream` socket; the newest socket of a call wins, older ones are fenced."""

    def __init__(self, ws, plane: MediaPlane, start: Start, info: dict) -> None:
        self.ws, self.plane, self.start = ws, plane, start
        self.info = dict(info, kind="ai", call_sid=start.call_sid, stream_sid=start.stream_sid,
                         track="inbound_track", label=info.get("label") or "ai")
        self.key = (start.call_sid, "ai")
        self.enc = Encoder(start.stream_sid)
        self.open = True
        self.fenced = False
        self.clear_signal: float | None = None
        self.frames_in = self.messages_out = self.bytes_out = 0
        self.received = 0  # media frames read from this socket (frames_in is a batch counter)
        # Replay-ring indexes of this socket's frames: [first_index, end_index).
        self.first_index = self.end_index = 0
        self.live: LiveCall | None = None
        self.mix_key = "mix:" + conf_key(info.get("tenant"), info.get("conference"))
        self._marks_reported = 0
        self.out_key = "out:" + start.call_sid
        self._sender = None
        own = getattr(ws, "own_writes", None)
        poke = own(self._flush_safely) if own is not None else None
        self.wake: threading.Event | _Poke
        if poke is not None:
            self.wake = _Poke(poke)  # no sender greenlet: one hop less per frame
        else:
            self.wake = wake = threading.Event()
            self._sender = threading.Thread(target=self._send_loop, args=(wake,),
                                            name="ai-sender", daemon=True)

    def attach(self, now_ms: float) -> None:
        """Claim the call, resume or create its LiveCall, start the sender."""
        plane = self.plane
        older = plane.table.claim(self.key, self)
        if older is not None:
            metrics.DUPLICATES.inc()
            older.fence()
        if plane.bus is not None:
            plane.bus.publish("claim", call_sid=self.start.call_sid, leg="ai")
        live = plane.calls.get(self.start.call_sid) or plane.adopt(self.start.call_sid,
                                                                   self.info)
        if live is not None and live.moved:  # it came back from another worker: its rings
            plane.calls.pop(self.start.call_sid, None)  # in Redis are newer than ours
            live.shutdown()
            plane.replay.release(self.start.call_sid)
            live = None
        if live is None or live.closed:
            live = plane.calls[self.start.call_sid] = LiveCall(plane, self.start.call_sid,
                                                               self.info)
            live.leg = self
            live.start()
        else:
            live.parked_at = None
            requeued = live.tracker.rewind(now_ms)
            live.out_index.clear()
            if requeued:
                metrics.REPLAYED.labels(direction="outbound").inc(requeued // 160)
            live.leg = self
        self.live = live
        self.first_index = self.end_index = live.replay.inbound.next_index
        plane.sink.submit(statesink.stream_started, self.info, self._on_recording)
        metrics.STREAMS.labels(kind="ai").inc()
        if self._sender is not None:
            self._sender.start()
        self.wake.set()

    def _on_recording(self, enabled: bool) -> None:
        if enabled:
            folder = recording_folder(self.info)
            sid = self.start.stream_sid
            self.plane.recordings.start(self.mix_key, folder, "mix", sid)
            self.plane.recordings.start(self.out_key, folder, "ai", sid)

    def _sync_marks(self) -> None:
        """Keep the worker-wide outstanding-marks gauge in step with this leg's tracker."""
        now = self.live.tracker.outstanding_marks() if self.open else 0
        if now != self._marks_reported:
            metrics.MARKS_OUT.inc(now - self._marks_reported)
            self._marks_reported = now

    def on_media(self, msg: Media) -> None:
        """Hot path: ring, taps, backend. No logging, no database."""
        live, data = self.live, msg.payload
        replay = live.replay
        index = self.plane.replay.add_inbound(replay, data)
        self.plane.taps.publish(self.mix_key, data)
        self.frames_in += 1
        self.received += 1
        self.end_index = index + 1
        if self.frames_in >= 250:  # counters in batches: no metric locks per frame
            self._flush_counters()
        if live.clear_watch is not None:  # inbound frames are the clock for its timeout
            live.settle_clear(monotonic_ms())
        if live.ready:
            session = live.session
            try:
                session.send_audio(data)  # an answer it queues at once is handled right here
                replay.fed = index + 1
            except Exception as exc:
                live.failed("send_audio", exc)

    def on_mark(self, name: str, now_ms: float) -> None:
        """An echoed mark: advance acknowledged playout, let more audio out."""
        live = self.live
        if live.tracker.on_mark(name, now_ms):
            live.on_acked()
            self._sync_marks()
            self.wake.set()
        elif live.clear_watch is not None:
            live.on_old_mark(name, now_ms)

    def on_dtmf(self, digit: str) -> None:
        """A key press on the AI leg: recorded as a media event (off the audio path)."""
        self.live.record("dtmf", {"digit": digit})

    def send_clear(self, signal_ms: float) -> None:
        """Ask the sender to send `clear` before anything else."""
        self.clear_signal = signal_ms
        self.wake.set()

    def _send_loop(self, wake: threading.Event) -> None:
        while self.open:
            wake.wait()
            wake.clear()
            if not self._flush_safely():
                break

    def _flush_safely(self) -> bool:
        try:
            if self.open:
                self._flush()
            return True
        except Exception:
            self.open = False  # the socket is gone; the read loop notices and closes
            return False

    def _flush(self) -> None:
        """Send what is due: `clear` first, then media and marks as one write."""
        ws, enc, live = self.ws, self.enc, self.live
        if self.clear_signal is not None:
            signal, self.clear_signal = self.clear_signal, None
            ws.send(enc.clear_text)
            metrics.CLEARS.inc()
            metrics.BARGE_REACTION.observe((monotonic_ms() - signal) / 1000.0)
        tracker = live.tracker
        end = tracker.sent  # pull() advances it by exactly the media it returns
        actions = tracker.pull(monotonic_ms())
        if actions:
            store, taps, replay = self.plane.replay, self.plane.taps, live.replay
            out_index = live.out_index
            batch = []
            for kind, payload in actions:
                if kind == "media":
                    batch.append(enc.media(payload))
                    index = store.add_outbound(replay, payload)
                    end += len(payload)
                    out_index.append((index, end))  # ring index -> timeline end
                    taps.publish(self.out_key, payload)
                    self.messages_out += 1
                    self.bytes_out += len(payload)
                else:
                    batch.append(enc.mark(payload))
            if len(batch) == 1:
                ws.send(batch[0])
            else:
                send_many = getattr(ws, "send_many", None)
                if send_many is not None:
                    send_many(batch)
                else:
                    for text in batch:
                        ws.send(text)
        self._sync_marks()

    def fence(self) -> None:
        """A newer socket took the call: stop sending and close this one."""
        self.fenced = True
        self.open = False
        self._sync_marks()
        self.wake.set()
        with contextlib.suppress(Exception):
            self.ws.close(reason=1000, message="superseded")

    def close(self, stopped: bool, now_ms: float) -> None:
        """The read loop ended (stop or socket loss): park the call, or record a drop."""
        self.open = False
        self._sync_marks()
        self.wake.set()
        self._flush_counters()
        metrics.STREAMS.labels(kind="ai").dec()
        plane, live = self.plane, self.live
        if live is None:
            return
        if live.leg is self:
            live.leg = None
            live.settle_clear(float("inf"))  # this socket's echoes will never come now
        if not self.fenced:
            plane.recordings.stop(self.mix_key, self.start.stream_sid)
            plane.recordings.stop(self.out_key, self.start.stream_sid)
        self._account(live)  # after the recordings closed: what it reports is on disk
        plane.table.release(self.key, self)  # a no-op when a newer local socket holds it
        if self.fenced:
            plane.sink.submit(statesink.stream_ended, self.start.stream_sid, "stopped")
            if live.leg is None:  # fenced from another worker: that worker has the call now
                live.parked_at = now_ms
            return
        if live.tracker.oldest_mark_age(now_ms) > DROP_AFTER_MS:
            self._dropped(live)
        else:
            plane.sink.submit(statesink.stream_ended, self.start.stream_sid,
                              "stopped" if stopped else "failed")
        live.parked_at = now_ms

    def _account(self, live: LiveCall) -> None:
        """Record what this socket brought in: its frames' ring indexes, and how far the
        backend has been fed (frames past `fed` are replayed when the backend is back)."""
        replay = live.replay
        live.record("ai-stream-audio", {
            "stream_sid": self.start.stream_sid, "received": self.received,
            "first_index": self.first_index, "end_index": self.end_index, "fed": replay.fed})

    def _dropped(self, live: LiveCall) -> None:
        metrics.DROPS.inc()
        self.plane.sink.submit(statesink.stream_ended, self.start.stream_sid, "dropped")
        live.record("stream-dropped", {"stream_sid": self.start.stream_sid,
                                       "marks_outstanding": live.tracker.outstanding_marks()})
        # No Calls update: it would take the AI out of its conference. Twilio requests the
        # <Connect action> URL when this stream ends, and that answers a new stream
        # (https://www.twilio.com/docs/voice/twiml/connect#action).

    def _flush_counters(self) -> None:
        metrics.FRAMES_IN.labels(kind="ai").inc(self.frames_in)
        metrics.FRAMES_OUT.inc(self.messages_out)
        metrics.BYTES_OUT.inc(self.bytes_out)
        self.frames_in = self.messages_out = self.bytes_out = 0


class _Poke:
    """`wake.set()` for a leg whose socket's read loop does the writing."""

    __slots__ = ("set",)

    def __init__(self, poke) -> None:
        self.set = poke
