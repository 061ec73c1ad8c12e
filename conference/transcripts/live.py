"""Per-speaker transcripts: each human fork is transcribed off the audio path and stored.

The media plane publishes every fork's inbound audio on its TapHub under the leg's callSid.
`TranscriptService.sync()` gives each registered fork a `ForkState` on the worker's one
`SharedTranscriber` (and detaches gone ones): the tap callback only enqueues, one consumer
endpoints every fork, shared decoders transcribe (consumer.py, decode.py), and rows
(`store.store_line`) are written by the media plane's single state writer. When the last fork
of a conference is gone and its utterances are decoded, the summary is written.
"""
from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable

from flask import Flask

from conference.logs import get_logger
from conference.media import facade, ports
from conference.transcripts import backlog
from conference.transcripts.consumer import ForkState, SharedTranscriber
from conference.transcripts.decode import Decoders, decode_threads

log = get_logger("transcripts")
SYNC_INTERVAL_S = 0.25
SUMMARY_WAIT_S = 120.0  # for this worker's lines to land (the writer retries through outages)


class TranscriptService:
    """All of this worker's forks on its one transcriber; summarises each conference at the end."""

    def __init__(self, app: Flask, make_stt: Callable[[dict], object] | None = None,
                 clock: Callable[[], float] = time.time,
                 transcriber: SharedTranscriber | None = None) -> None:
        self.app = app
        stt = make_stt or DefaultSTT(app)
        self.transcriber = transcriber or SharedTranscriber(
            stt, self._write, clock,
            decoders=Decoders(stt, self._write, decode_threads(app.config)))
        self.active: dict[tuple[str, str], tuple[str, ForkState, Callable]] = {}
        self.pending: dict[str, list[ForkState]] = {}  # conf key -> its forks' states
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
        self.transcriber.decoders.keep(str(f.info.get("tenant") or "") for f in current.values())
        live_confs = {ck for ck, _ in current}
        for ck in [ck for ck in self.pending if ck not in live_confs]:
            if all(state.done for state in self.pending[ck]):
                del self.pending[ck]
                streams = sorted(self.streams.pop(ck, set()))
                # Its own thread: an LLM call must not hold up the shared state writer.
                self.summary = threading.Thread(target=summarize, name="summary", daemon=True,
                                                args=(self.app, self.infos.pop(ck), streams))
                self.summary.start()

    def _write(self, *job) -> None:
        facade.submit(self.app, *job)  # the state writer's queue: rows never block the consumer

    def _attach(self, key: tuple[str, str], fork: facade.ForkView) -> None:
        self.transcriber.start()
        state = self.transcriber.fork(fork.info)
        unsubscribe = facade.subscribe(self.app, fork.call_sid, state)
        self.active[key] = (fork.stream_sid, state, unsubscribe)
        self.pending.setdefault(key[0], []).append(state)
        self.streams.setdefault(key[0], set()).add(fork.stream_sid)
        self.infos[key[0]] = fork.info

    def _detach(self, key: tuple[str, str]) -> None:
        entry = self.active.pop(key, None)
        if entry is not None:
            _, state, unsubscribe = entry
            unsubscribe()  # first: no frame of it is queued after its end
            self.transcriber.close(state)

    def run(self) -> None:
        """Background loop for a serving worker."""
        while not self._stop.wait(SYNC_INTERVAL_S):
            try:
                self.sync()
                refresh_metrics()
            except Exception:
                log.exception("transcript sync failed", extra={"event": "transcript_error"})

    def stop(self) -> None:
        """End the background loop, then the consumer and decoders after what is queued."""
        self._stop.set()
        self.transcriber.stop()


class DefaultSTT:
    """The pipeline's STT per tenant: OpenAI transcription with a key, else pocketsphinx."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def __call__(self, info: dict):
        """A fresh recognizer for `info`'s tenant (the decoders share it between its forks)."""
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
    backlog.refresh([(s.transcriber, len(s.active)) for s in list(_services)])


def init_app(app: Flask) -> None:
    """Create the service, record AI calls' events; serving workers start the background loop."""
    from conference.transcripts.agent_records import AgentEventRecorder

    app.extensions[ports.EVENT_RECORDER] = AgentEventRecorder
    service = app.extensions["transcripts"] = TranscriptService(app)
    _services.add(service)
    enabled = app.config.get("TRANSCRIPTS_ENABLED")
    if enabled if enabled is not None else not app.testing:
        threading.Thread(target=service.run, name="transcripts", daemon=True).start()
