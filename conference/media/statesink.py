"""Media-plane state writes, queued off the audio path and done by one background writer.

A write that fails on the database connection (an outage, a restart, a cut network) stays at
the head of the queue and is retried with backoff until it lands, so nothing is lost and the
order of a stream's rows holds (started before ended). Every job is idempotent under its own
key (a stream's sid, an event's dedup_key, a line's speaker and start time): a retry after an
ambiguous failure (the COMMIT reached the server, its answer did not) finds its row and does
not insert it twice. The queue is bounded and lives in memory: a write queued when the worker
dies is lost with the worker's calls.
"""
from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import Flask

from conference.logs import get_logger
from conference.media import metrics
from models import Conference, ConferenceEvent, Participant, Stream, Tenant, transaction
from models.conference import tenant_number
from models.times import utcnow

log = get_logger("media.statesink")
RETRY_FIRST_S, RETRY_MAX_S = 0.05, 2.0  # backoff between attempts of the head job
RETRY_FOR_S = 600.0  # a write still failing after this long is given up (and counted)


def retryable(exc: BaseException) -> bool:
    """True for a failure of the database connection, not of the job itself."""
    if isinstance(exc, sa.exc.DBAPIError):
        return exc.connection_invalidated or isinstance(
            exc, (sa.exc.OperationalError, sa.exc.InterfaceError))
    return isinstance(exc, (sa.exc.DisconnectionError, sa.exc.TimeoutError, ConnectionError))


class StateSink:
    """A bounded queue and one writer (a greenlet under gevent) running jobs in an app context."""

    def __init__(self, app: Flask, maxsize: int = 10000, retry_for_s: float = RETRY_FOR_S) -> None:
        self.app = app
        self._queue: queue.Queue = queue.Queue(maxsize)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.retry_for_s = retry_for_s
        self.dropped = self.done = self.landed = self.retried = self.failed = 0

    def submit(self, job: Callable[..., Any], *args: Any) -> None:
        """Queue `job(*args)`; never blocks (a full queue drops the write and counts it)."""
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="media-statesink",
                                                    daemon=True)
                    self._thread.start()
        try:
            self._queue.put_nowait((job, args))
            metrics.STATE_QUEUED.inc()
        except queue.Full:
            self.dropped += 1
            metrics.STATE_WRITES.labels(outcome="dropped").inc()

    def join(self) -> None:
        """Wait until everything queued so far is written or given up (tests, shutdown)."""
        self._queue.join()

    def pending(self) -> int:
        """Writes queued and not yet landed or given up."""
        return self._queue.unfinished_tasks

    def _run(self) -> None:
        while True:
            job, args = self._queue.get()
            try:
                self._write(job, args)
            finally:
                self.done += 1
                metrics.STATE_QUEUED.dec()
                self._queue.task_done()
            # ORM and sqlite calls never yield to gevent: let the audio greenlets run between
            # jobs, so a burst of stream starts costs each of them one job, not the burst.
            time.sleep(0)

    def _write(self, job: Callable[..., Any], args: tuple) -> None:
        """Run one job until it lands, fails for its own reasons, or its retries run out."""
        first, delay = time.monotonic(), RETRY_FIRST_S
        while True:
            try:
                with self.app.app_context():
                    job(*args)
            except Exception as exc:
                if not retryable(exc) or time.monotonic() - first > self.retry_for_s:
                    self.failed += 1
                    metrics.STATE_WRITES.labels(outcome="failed").inc()
                    log.exception("media state write failed", extra={"event": job.__name__})
                    return
                self.retried += 1
                metrics.STATE_WRITES.labels(outcome="retried").inc()
                if self.retried % 50 == 1:  # sampled: an outage retries every job many times
                    log.warning("state write deferred: database unavailable (%s)",
                                type(exc).__name__, extra={"event": job.__name__})
                time.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            self.landed += 1
            metrics.STATE_WRITES.labels(outcome="landed").inc()
            return


def _conference(session, tenant: str | None, name: str | None) -> Conference | None:
    tenant_id = tenant_number(tenant)
    if not name or tenant_id is None:
        return None
    return session.scalar(sa.select(Conference).where(
        Conference.tenant_id == tenant_id, Conference.name == name))


def stream_started(info: dict, on_recording: Callable[[bool], None] | None = None) -> None:
    """Insert (or revive) the Stream row; report the tenant's recording opt-in."""
    with transaction() as session:
        conf = _conference(session, info.get("tenant"), info.get("conference"))
        participant = None
        if conf is not None and info.get("label"):
            participant = session.scalar(sa.select(Participant).where(
                Participant.conference_id == conf.id, Participant.label == info["label"]))
        row = session.scalar(sa.select(Stream).where(Stream.stream_sid == info["stream_sid"]))
        if row is None:
            row = Stream(stream_sid=info["stream_sid"])
            session.add(row)
        row.call_sid, row.kind = info["call_sid"], info["kind"]
        # The stream's own name (unique per call: "ai-2", "fork-customer-3"), never the label;
        # Twilio's stream-started callback carries it too (StreamName).
        row.track = info.get("track", "inbound_track")
        row.name = row.name or info.get("stream_name")
        row.status = "started"
        row.conference_id = conf.id if conf else None
        row.participant_id = participant.id if participant else None
        tenant = session.get(Tenant, conf.tenant_id) if conf is not None else None
        recording = bool(tenant is not None and tenant.recording_enabled)
    if on_recording is not None:
        on_recording(recording)


def stream_ended(stream_sid: str, status: str) -> None:
    """Mark a Stream stopped, failed or dropped."""
    with transaction() as session:
        row = session.scalar(sa.select(Stream).where(Stream.stream_sid == stream_sid))
        if row is not None and row.status != "dropped":
            row.status, row.stopped_at = status, utcnow()


def media_event(info: dict, event: str, dedup_key: str, payload: dict) -> None:
    """Record a ConferenceEvent(source="media"); a repeated dedup_key is a no-op."""
    with transaction() as session:
        if session.scalar(sa.select(ConferenceEvent.id).where(
                ConferenceEvent.dedup_key == dedup_key)):
            return
        conf = _conference(session, info.get("tenant"), info.get("conference"))
        session.add(ConferenceEvent(
            conference_id=conf.id if conf else None, source="media", event=event,
            call_sid=info.get("call_sid"), payload=payload, dedup_key=dedup_key[:128]))
