"""Transcript backlog on /metrics: metric objects, so a multiprocess scrape sums every worker.

A collector read at scrape time would show only the worker answering the scrape. These are
refreshed by each worker's transcript loop (every SYNC_INTERVAL_S), never on the audio path:
the tap callback only counts drops in a plain int (so do the decoders their skips).
"""
from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Counter, Gauge

from conference.media.metrics import REGISTRY

BACKLOG = Gauge("forkline_transcript_backlog_frames", "20 ms fork frames queued for transcription",
                registry=REGISTRY, multiprocess_mode="livesum")
FORKS = Gauge("forkline_transcript_forks", "Forks being transcribed", registry=REGISTRY,
              multiprocess_mode="livesum")
DROPPED = Counter("forkline_transcript_dropped_frames",
                  "Frames a full transcript queue dropped", registry=REGISTRY)
SKIPPED = Counter("forkline_transcript_skipped_utterances",
                  "Utterances not transcribed because the decoders' queue was full",
                  registry=REGISTRY)


def refresh(transcribers: Iterable[tuple]) -> None:
    """Publish this worker's backlog and fork count; count drops and skips not yet counted.

    `transcribers`: (SharedTranscriber, forks attached to it) pairs, one per service.
    """
    queued = forks = 0
    for transcriber, attached in transcribers:
        queued += transcriber.queued
        forks += attached
        count_new(transcriber, "dropped", DROPPED)
        count_new(transcriber.decoders, "skipped", SKIPPED)
    BACKLOG.set(queued)
    FORKS.set(forks)


def count_new(source, name: str, counter: Counter) -> None:
    """Add `source.<name>` gained since the last call to `counter` (each one once)."""
    new = getattr(source, name) - getattr(source, name + "_counted")
    if new > 0:
        setattr(source, name + "_counted", getattr(source, name + "_counted") + new)
        counter.inc(new)
