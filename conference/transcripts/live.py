"""Per-speaker transcripts: each human fork is transcribed off the audio path and stored.

The media plane publishes every fork's inbound audio on its TapHub under the leg's callSid.
`TranscriptService.sync()` attaches a `ForkTranscriber` to each registered fork (and detaches
from gone ones); the tap callback only enqueues, a worker thread endpoints and transcribes,
and rows (`store.store_line`) are written by the media plane's single state writer. When the
last fork of a conference is gone and its transcribers have drained, the summary is written.
"""
from __future__ import annotations

import queue
import threading
import time
import weakref
from collections.abc import Callable

from flask import Flask

from agents.pipeline.endpoint import Endpointer, SpeechEnded
from conference.logs import get_logger
from conference.media import facade, ports
from conference.media.tones import silence_tones
from conference.transcripts import backlog
from conference.transcripts.store import store_line

log = get_logger("transcripts")
QUEUE_FRAMES = 3000  # a minute of 20 ms frames; beyond that the transcript drops audio
SYNC_INTERVAL_S = 0.25
SUMMARY_WAIT_S = 120.0  # for this worker's lines to land (the writer retries through outages)


class ForkTranscriber:
    """One human fork: a tap callback that only enqueues, and a worker that transcribes."""

    def __init__(self, info: dict, make_stt: Callable[[], object], submit: Callable,
                 clock: Callable[[], float] = time.time) -> None:
        self.info = dict(info, role=info.get("role") or "customer")
        self.clock = clock  # wall time of a frame's arrival (tests pass a virtual one)
        self.make_stt = make_stt
        self.submit = submit
        self.endpointer = Endpointer()
        self.queue: queue.Queue = queue.Queue(QUEUE_FRAMES)
        self.dropped = 0
        self.dropped_counted = 0  # how many of them are on the metrics counter
        self.lines = 0
        self.done = threading.Event()

    def __call__(self, ulaw: bytes) -> None:
        """Tap callback on the audio path: never blocks, never logs."""
        try:
            self.queue.put_nowait((ulaw, self.clock()))
        except queue.Full:
            self.dropped += 1

    def stop(self) -> None:
        """Finish after the audio already queued (a last utterance is flushed)."""
        self.queue.put(None)

    def run(self) -> None:
        """Worker loop: endpoint, transcribe, hand rows to the writer."""
        try:
            stt = self.make_stt()
            arrived = self.clock()
            while (item := self.queue.get()) is not None:
                ulaw, arrived = item
                position = self.endpointer.position_ms
                # Beeps are not words: the endpointer and the STT never hear them.
                for event in self.endpointer.feed(silence_tones(ulaw)):
                    if isinstance(event, SpeechEnded):
                        self._transcribe(stt, event, arrived, position)
            if (last := self.endpointer.flush()) is not None:
                self._transcribe(stt, last, arrived, self.endpointer.position_ms)
        except Exception:
            log.exception("fork transcription failed", extra={"event": "transcript_error"})
        finally:
            self.done.set()

    def _transcribe(self, stt, event: SpeechEnded, arrived: float, position: int) -> None:
        # Audio arrives in real time: stream ms map to wall time around the chunk's arrival.
        started = arrived + (event.start_ms - position) / 1000
        ended = arrived + (event.end_ms - position) / 1000
        results = list(stt.transcribe(event.pcm))
        text = results[-1][0] if results else ""
        if text.strip():
            self.lines += 1
            self.submit(store_line, self.info, text, started, ended, "fork")


class TranscriptService:
    """Keeps a transcriber on every fork of this worker's media plane; summarises at the end."""

    def __init__(self, app: Flask, make_stt: Callable[[dict], object] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.app = app
        self.clock = clock
        self.make_stt = make_stt or DefaultSTT(app)
        self.active: dict[tuple[str, str], tuple[str, ForkTranscriber, Callable]] = {}
        self.pending: dict[str, list[ForkTranscriber]] = {}  # conf key -> transcribers
        self.infos: dict[str, dict] = {}
        self.streams: dict[str, set[str]] = {}  # conf key -> this worker's fork stream sids
        self.summary: threading.Thread | None = None
        self._stop = threading.Event()

    def sync(self) -> None:
        """Attach to new forks, detach from gone ones, summarise finished conferences."""
        current = facade.forks(self.app)
        for key, fork in current.items():
            if key not in self.active or self.active[key][0] != fork.stream_sid:
                self._detach(key)
                self._attach(key, fork)
        for key in [k for k in self.active if k not in current]:
            self._detach(key)
        live_confs = {ck for ck, _ in current}
        for ck in [ck for ck in self.pending if ck not in live_confs]:
            if all(t.done.is_set() for t in self.pending[ck]):
                del self.pending[ck]
                streams = sorted(self.streams.pop(ck, set()))
                # Its own thread: an LLM call must not hold up the shared state writer.
                self.summary = threading.Thread(target=summarize, name="summary", daemon=True,
                                                args=(self.app, self.infos.pop(ck), streams))
                self.summary.start()

    def _attach(self, key: tuple[str, str], fork: facade.ForkView) -> None:
        info = fork.info
        transcriber = ForkTranscriber(info, lambda: self.make_stt(info),
                                      lambda *job: facade.submit(self.app, *job), self.clock)
        unsubscribe = facade.subscribe(self.app, fork.call_sid, transcriber)
        threading.Thread(target=transcriber.run, name="fork-transcriber", daemon=True).start()
        self.active[key] = (fork.stream_sid, transcriber, unsubscribe)
        self.pending.setdefault(key[0], []).append(transcriber)
        self.streams.setdefault(key[0], set()).add(fork.stream_sid)
        self.infos[key[0]] = info

    def _detach(self, key: tuple[str, str]) -> None:
        entry = self.active.pop(key, None)
        if entry is not None:
            _, transcriber, unsubscribe = entry
            unsubscribe()
            transcriber.stop()
            backlog.count_drops(transcriber)  # its last drops, before it leaves `active`

    def run(self) -> None:
        """Background loop for a serving worker."""
        while not self._stop.wait(SYNC_INTERVAL_S):
            try:
                self.sync()
                refresh_metrics()
            except Exception:
                log.exception("transcript sync failed", extra={"event": "transcript_error"})

    def stop(self) -> None:
        """End the background loop."""
        self._stop.set()


class DefaultSTT:
    """The pipeline's STT per fork: OpenAI transcription with a key, else pocketsphinx."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def __call__(self, info: dict):
        """A fresh recognizer for one fork (recognizers are not shared between threads)."""
        from agents.pipeline.factory import transcriber
        from conference.ai.profiles import DEFAULT_NAME, load_profile

        profile = None
        if not self.app.config.get("OPENAI_API_KEY"):  # only sphinx uses the vocabulary
            with self.app.app_context():
                profile = load_profile(int(info.get("tenant") or 0), DEFAULT_NAME)
        return transcriber(self.app.config, profile)


def summarize(app: Flask, info: dict, streams: list[str] | None = None) -> None:
    """Store the conference summary (LLM with a key, else extractive); runs in its own thread.

    `streams` are this worker's forks of the conference: their lines are written first (the
    state writer drains up to here), then the summary is claimed across workers and hosts.
    """
    from conference.transcripts.summary import summarize_conference

    written = threading.Event()
    facade.submit(app, written.set)
    if not written.wait(SUMMARY_WAIT_S):
        log.warning("summary after lines still unwritten", extra={"event": "summary"})
    try:
        with app.app_context():
            summarize_conference(info.get("tenant"), info.get("conference"), app.config,
                                 streams)
    except Exception:
        log.exception("summary failed", extra={"event": "summary_error"})


_services: weakref.WeakSet[TranscriptService] = weakref.WeakSet()


def refresh_metrics() -> None:
    """This worker's transcript backlog, forks and drops on /metrics (every service's)."""
    backlog.refresh([t for s in list(_services) for _, t, _ in list(s.active.values())])


def init_app(app: Flask) -> None:
    """Create the service, record AI calls' events; serving workers start the background loop."""
    from conference.transcripts.agent_records import AgentEventRecorder

    app.extensions[ports.EVENT_RECORDER] = AgentEventRecorder
    service = app.extensions["transcripts"] = TranscriptService(app)
    _services.add(service)
    enabled = app.config.get("TRANSCRIPTS_ENABLED")
    if enabled if enabled is not None else not app.testing:
        threading.Thread(target=service.run, name="transcripts", daemon=True).start()
