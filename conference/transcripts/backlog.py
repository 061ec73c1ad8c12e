"""Transcript backlog on /metrics: metric objects, so a multiprocess scrape sums every worker.

A collector read at scrape time would show only the worker answering the scrape. These are
refreshed by each worker's transcript loop (every SYNC_INTERVAL_S), never on the audio path:
the tap callback only counts drops in a plain int.
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


def refresh(transcribers: Iterable) -> None:
    """Publish this worker's backlog and fork count; count drops not yet counted."""
    queued = forks = 0
    for transcriber in transcribers:
        queued += transcriber.queue.qsize()
        forks += 1
        count_drops(transcriber)
    BACKLOG.set(queued)
    FORKS.set(forks)


def count_drops(transcriber) -> None:
    """Add `transcriber`'s drops since the last call to the counter (once each)."""
    new = transcriber.dropped - transcriber.dropped_counted
    if new > 0:
        transcriber.dropped_counted += new
        DROPPED.inc(new)
