"""Per-speaker transcripts: each human fork is transcribed off the audio path and stored.

The media plane publishes every fork's inbound audio on its TapHub under the leg's callSid.
`TranscriptService.sync()` attaches a `ForkTranscriber` to each registered fork (and detaches
from gone ones); the tap callback only enqueues, a worker thread endpoints and transcribes,
and rows are written by the media plane's single state writer. When the last fork of a
conference is gone and its transcribers have drained, the summary is written.
"""
from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import Flask

from agents.pipeline.endpoint import Endpointer, SpeechEnded
from agents.pipeline.speaker import truncate_text
from conference.logs import get_logger
from conference.media.tones import silence_tones
from models import Conference, ConferenceEvent, TranscriptEntry, transaction

log = get_logger("transcripts")
QUEUE_FRAMES = 3000  # a minute of 20 ms frames; beyond that the transcript drops audio
SYNC_INTERVAL_S = 0.25


def _wall(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def store_line(info: dict, text: str, started: float, ended: float, source: str) -> None:
    """Insert one TranscriptEntry for the conference named in `info` (a state-writer job)."""
    tenant, name = info.get("tenant"), info.get("conference")
    if not text.strip() or not str(tenant or "").isdigit():
        return
    with transaction() as session:
        conf_id = session.scalar(sa.select(Conference.id).where(
            Conference.tenant_id == int(tenant), Conference.name == name))
        if conf_id is None:
            return
        speaker = "ai" if source == "ai" else (info.get("label") or info.get("call_sid") or "?")
        session.add(TranscriptEntry(
            conference_id=conf_id, speaker=speaker[:64], role=info.get("role") or source,
            text=text.strip(), started_at=_wall(started), ended_at=_wall(ended), source=source))


def _utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything is stored in UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _iso(value: datetime | None) -> str | None:
    return _utc(value).isoformat() if value else None


def heard_cuts(barge_ins: list[dict]) -> dict[str, tuple[int, int]]:
    """item_id -> (heard_ms, generated_ms) from the media plane's barge-in payloads.

    What had been generated when the caller cut in is what played plus what was flushed.
    """
    cuts: dict[str, tuple[int, int]] = {}
    for payload in barge_ins:
        item, heard = payload.get("item_id"), payload.get("heard_ms")
        if not item or not isinstance(heard, int):
            continue
        generated = heard + max(int(payload.get("flushed_ms") or 0), 0)
        if item not in cuts or heard < cuts[item][0]:  # the first cut is the one that counts
            cuts[item] = (heard, generated)
    return cuts


def ai_line(text: str, item_id: str | None, cuts: dict[str, tuple[int, int]]) -> dict | None:
    """The AI's words as the caller heard them: cut at a barge-in, None if nothing was heard."""
    if item_id not in cuts:
        return {"text": text}
    heard, generated = cuts[item_id]
    kept = truncate_text(text, heard, generated)
    if not kept.rstrip(".").strip():
        return None
    return {"text": kept, "interrupted": True, "heard_ms": heard}


def _ai_event_rows(session: so.Session, conference_id: int) -> list[tuple]:
    # The media plane records the AI's final lines and its barge-ins as media events.
    events = list(session.scalars(sa.select(ConferenceEvent).where(
        ConferenceEvent.conference_id == conference_id, ConferenceEvent.source == "media",
        ConferenceEvent.event.in_(("transcript", "barge-in"))).order_by(ConferenceEvent.id)))
    cuts = heard_cuts([e.payload or {} for e in events if e.event == "barge-in"])
    rows = []
    for e in events:
        payload = e.payload or {}
        if e.event != "transcript" or payload.get("speaker") != "ai":
            continue
        line = ai_line(str(payload.get("text") or ""), payload.get("item_id"), cuts)
        if line is not None:
            rows.append((e.received_at, 0, e.id, {
                "speaker": "ai", "role": "ai", "source": "ai", **line,
                "started_at": _iso(e.received_at), "ended_at": None}))
    return rows


def conference_entries(session: so.Session, conference_id: int) -> list[dict]:
    """One ordered, speaker-labelled transcript: human forks and the AI (as heard)."""
    rows = [(e.started_at, e.seq, e.id, {
        "speaker": e.speaker, "role": e.role, "text": e.text, "source": e.source,
        "started_at": _iso(e.started_at), "ended_at": _iso(e.ended_at)})
        for e in session.scalars(
            sa.select(TranscriptEntry).where(TranscriptEntry.conference_id == conference_id))]
    if not any(row[3]["source"] == "ai" for row in rows):
        rows += _ai_event_rows(session, conference_id)
    rows.sort(key=lambda row: (_utc(row[0]), row[1], row[2]))
    return [row[3] for row in rows]


class ForkTranscriber:
    """One human fork: a tap callback that only enqueues, and a worker that transcribes."""

    def __init__(self, info: dict, make_stt: Callable[[], object], submit: Callable) -> None:
        self.info = dict(info, role=info.get("role") or "customer")
        self.make_stt = make_stt
        self.submit = submit
        self.endpointer = Endpointer()
        self.queue: queue.Queue = queue.Queue(QUEUE_FRAMES)
        self.dropped = 0
        self.lines = 0
        self.done = threading.Event()

    def __call__(self, ulaw: bytes) -> None:
        """Tap callback on the audio path: never blocks, never logs."""
        try:
            self.queue.put_nowait((ulaw, time.time()))
        except queue.Full:
            self.dropped += 1

    def stop(self) -> None:
        """Finish after the audio already queued (a last utterance is flushed)."""
        self.queue.put(None)

    def run(self) -> None:
        """Worker loop: endpoint, transcribe, hand rows to the writer."""
        try:
            stt = self.make_stt()
            arrived = time.time()
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

    def __init__(self, app: Flask, make_stt: Callable[[dict], object] | None = None) -> None:
        self.app = app
        self.make_stt = make_stt or DefaultSTT(app)
        self.active: dict[tuple[str, str], tuple[object, ForkTranscriber, Callable]] = {}
        self.pending: dict[str, list[ForkTranscriber]] = {}  # conf key -> transcribers
        self.infos: dict[str, dict] = {}
        self.summary: threading.Thread | None = None
        self._stop = threading.Event()

    def sync(self) -> None:
        """Attach to new forks, detach from gone ones, summarise finished conferences."""
        plane = self.app.extensions.get("media")
        if plane is None:
            return
        current = {(ck, label): fork for ck, forks in list(plane.forks.items())
                   for label, fork in list(forks.items())}
        for key, fork in current.items():
            if key not in self.active or self.active[key][0] is not fork:
                self._detach(key)
                self._attach(plane, key, fork)
        for key in [k for k in self.active if k not in current]:
            self._detach(key)
        live_confs = {ck for ck, _ in current}
        for ck in [ck for ck in self.pending if ck not in live_confs]:
            if all(t.done.is_set() for t in self.pending[ck]):
                del self.pending[ck]
                # Its own thread: an LLM call must not hold up the shared state writer.
                self.summary = threading.Thread(target=summarize, name="summary", daemon=True,
                                                args=(self.app, self.infos.pop(ck)))
                self.summary.start()

    def _attach(self, plane, key: tuple[str, str], fork) -> None:
        info = dict(fork.info)
        transcriber = ForkTranscriber(info, lambda: self.make_stt(info), plane.sink.submit)
        unsubscribe = plane.taps.subscribe(fork.start.call_sid, transcriber)
        threading.Thread(target=transcriber.run, name="fork-transcriber", daemon=True).start()
        self.active[key] = (fork, transcriber, unsubscribe)
        self.pending.setdefault(key[0], []).append(transcriber)
        self.infos[key[0]] = info

    def _detach(self, key: tuple[str, str]) -> None:
        entry = self.active.pop(key, None)
        if entry is not None:
            _, transcriber, unsubscribe = entry
            unsubscribe()
            transcriber.stop()

    def run(self) -> None:
        """Background loop for a serving worker."""
        while not self._stop.wait(SYNC_INTERVAL_S):
            try:
                self.sync()
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
        config = self.app.config
        if config.get("OPENAI_API_KEY"):
            from agents.pipeline.openai_stages import OpenAISTT, make_client

            return OpenAISTT(make_client(config))
        from agents.pipeline.offline import SphinxSTT, profile_corpus
        from conference.ai.profiles import DEFAULT_NAME, load_profile

        # Offline recognition is far better with the tenant's domain vocabulary.
        with self.app.app_context():
            profile = load_profile(int(info.get("tenant") or 0), DEFAULT_NAME)
        return SphinxSTT(profile_corpus(profile) if profile else None)


def summarize(app: Flask, info: dict) -> None:
    """Store the conference summary (LLM with a key, else extractive); runs in its own thread."""
    from conference.transcripts.summary import summarize_conference

    try:
        with app.app_context():
            summarize_conference(info.get("tenant"), info.get("conference"), app.config)
    except Exception:
        log.exception("summary failed", extra={"event": "summary_error"})


def init_app(app: Flask) -> None:
    """Create the service; serving workers (not tests) start its background loop."""
    service = app.extensions["transcripts"] = TranscriptService(app)
    enabled = app.config.get("TRANSCRIPTS_ENABLED")
    if enabled if enabled is not None else not app.testing:
        threading.Thread(target=service.run, name="transcripts", daemon=True).start()
