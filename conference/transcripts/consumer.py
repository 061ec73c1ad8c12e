"""One transcriber per worker: every fork's tap feeds one bounded queue, one consumer drains it.

A fork costs a `ForkState` (its speaker, an endpointer, a few counts): no thread, no queue, no
recognizer. The tap callback only enqueues `(fork, frame, arrival)`; a full queue drops the
frame and counts it, so audio never waits. The consumer endpoints every fork's frames in
arrival order and hands finished utterances to the shared `Decoders` (decode.py), so a slow
recognizer holds up neither the audio nor the other forks' endpointing.
"""
from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable

from agents.pipeline.endpoint import Endpointer, SpeechEnded
from conference.logs import get_logger
from conference.media.tones import silence_tones
from conference.transcripts.decode import Decoders

log = get_logger("transcripts")
QUEUE_FRAMES = 6000  # 20 ms frames of all forks (2 minutes of one, 2 s of 60); then drops
YIELD_EVERY = 50  # frames endpointed between yields: a backlog never holds the hub for long
_STOP = object()


class ForkState:
    """One transcribed fork: who speaks, its endpointer, and where its audio is in time."""

    __slots__ = ("info", "endpointer", "arrived", "closed", "decoding", "lines", "_offer")

    def __init__(self, info: dict, offer: Callable[[ForkState, bytes], None]) -> None:
        self.info = dict(info, role=info.get("role") or "customer")
        self.endpointer: Endpointer | None = Endpointer()  # None once the fork has ended
        self.arrived = 0.0  # wall time of the last frame endpointed
        self.closed = False
        self.decoding = 0  # utterances handed to the decoders and not finished
        self.lines = 0
        self._offer = offer

    def __call__(self, ulaw: bytes) -> None:
        """Tap callback on the audio path: never blocks, never logs."""
        self._offer(self, ulaw)

    @property
    def done(self) -> bool:
        """Ended, its last utterance flushed, and every one of its decodes finished."""
        return self.closed and self.decoding == 0


class SharedTranscriber:
    """The worker's transcriber: one bounded frame queue and one consumer for all its forks."""

    def __init__(self, make_stt: Callable[[dict], object], write: Callable,
                 clock: Callable[[], float] = time.time, max_frames: int = QUEUE_FRAMES,
                 decoders: Decoders | None = None) -> None:
        self.clock = clock  # wall time of a frame's arrival (tests pass a virtual one)
        self.frames: queue.Queue = queue.Queue(max_frames)
        self.decoders = decoders or Decoders(make_stt, write)
        self.dropped = 0  # frames a full queue refused
        self.dropped_counted = 0  # how many of them are on the metrics counter
        self._consumer: threading.Thread | None = None

    def fork(self, info: dict) -> ForkState:
        """State for a new fork; subscribe the returned object to its tap."""
        return ForkState(info, self._offer)

    def _offer(self, fork: ForkState, ulaw: bytes) -> None:
        try:
            self.frames.put_nowait((fork, ulaw, self.clock()))
        except queue.Full:
            self.dropped += 1

    @property
    def queued(self) -> int:
        """Frames waiting for the consumer."""
        return self.frames.qsize()

    def start(self) -> None:
        """Start the consumer (once; the service calls this when it attaches a fork)."""
        if self._consumer is None:
            self._consumer = threading.Thread(target=self.run, name="transcripts-consumer",
                                              daemon=True)
            self._consumer.start()

    def close(self, fork: ForkState) -> None:
        """End `fork` after its frames already queued (its last utterance is flushed)."""
        self._control(lambda: self._close(fork))

    def drain(self, timeout: float) -> bool:
        """Wait until the consumer has endpointed every frame queued before this call."""
        reached = threading.Event()
        self._control(reached.set)
        return reached.wait(timeout)

    def stop(self) -> None:
        """End the consumer after what is queued, then the decoders."""
        if self._consumer is not None:
            self._control(_STOP)

    def _control(self, item) -> None:
        # Not the audio path (the service's loop, tests): waiting for room here is fine.
        self.frames.put(item)

    def run(self) -> None:
        """Consumer loop: endpoint each fork's frames, hand utterances to the decoders."""
        handled = 0
        while (item := self.frames.get()) is not _STOP:
            try:
                if callable(item):
                    item()
                else:
                    self._feed(*item)
            except Exception:
                log.exception("fork transcription failed", extra={"event": "transcript_error"})
            handled += 1
            if handled % YIELD_EVERY == 0:
                time.sleep(0)  # under gevent: let the hub serve the audio sockets
        self.decoders.stop()

    def _feed(self, fork: ForkState, ulaw: bytes, arrived: float) -> None:
        endpointer = fork.endpointer
        if endpointer is None:  # a frame published while the fork was being detached
            return
        position = endpointer.position_ms
        # Beeps are not words: the endpointer and the recognizer never hear them.
        for event in endpointer.feed(silence_tones(ulaw)):
            if isinstance(event, SpeechEnded):
                self._utterance(fork, event, arrived, position)
        fork.arrived = arrived

    def _close(self, fork: ForkState) -> None:
        endpointer, fork.endpointer = fork.endpointer, None  # its VAD state is freed now
        if endpointer is not None and (last := endpointer.flush()) is not None:
            self._utterance(fork, last, fork.arrived, endpointer.position_ms)
        fork.closed = True

    def _utterance(self, fork: ForkState, event: SpeechEnded, arrived: float,
                   position: int) -> None:
        # Audio arrives in real time: stream ms map to wall time around the chunk's arrival.
        started = arrived + (event.start_ms - position) / 1000
        ended = arrived + (event.end_ms - position) / 1000
        self.decoders.submit(fork, event.pcm, started, ended)
