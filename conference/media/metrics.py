"""Prometheus counters of the media plane, exposed on /metrics.

Under gunicorn every worker writes its samples to PROMETHEUS_MULTIPROC_DIR (gunicorn.conf.py makes
it), and a scrape sums them across the process tree, whichever worker answers; gauges say how
they combine (livesum: open sockets of live workers). Without the directory (tests, the dev
server) /metrics serves this process's registry.
"""
from __future__ import annotations

import hmac

from flask import Blueprint, Response, abort, current_app, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

REGISTRY = CollectorRegistry(auto_describe=True)
SCRAPE_TIME: list = []  # custom collectors, read per scrape from the answering worker
BEFORE_SCRAPE: list = []  # publishers of metric objects, run by the answering worker

FRAMES_IN = Counter("forkline_media_frames_in", "Media frames received", ["kind"],
                    registry=REGISTRY)
FRAMES_OUT = Counter("forkline_media_messages_out", "Media messages sent to Twilio",
                     registry=REGISTRY)
BYTES_OUT = Counter("forkline_media_bytes_out", "mu-law bytes sent to Twilio", registry=REGISTRY)
MALFORMED = Counter("forkline_media_malformed", "Messages counted and skipped", ["reason"],
                    registry=REGISTRY)
SUPERVISOR_DROPPED = Counter(
    "forkline_supervisor_audio_dropped", "Browser supervisor audio dropped oldest-first",
    ["direction"], registry=REGISTRY)
AI_AUDIO_DROPPED = Counter(
    "forkline_media_ai_audio_dropped_bytes", "AI audio not sent by design: its item was"
    " interrupted (a barge-in) or the AI is in listen mode", ["reason"], registry=REGISTRY)
LATE = Counter("forkline_media_late_frames", "Out-of-order or duplicate frames",
               registry=REGISTRY)
GAPS = Counter("forkline_media_sequence_gaps", "Sequence numbers never received",
               registry=REGISTRY)
MARKS_OUT = Gauge("forkline_media_marks_outstanding", "Marks sent and not yet echoed",
                  registry=REGISTRY, multiprocess_mode="livesum")
CLEARS = Counter("forkline_media_clears", "clear messages sent", registry=REGISTRY)
BARGE_INS = Counter("forkline_media_barge_ins", "Barge-ins", ["source"], registry=REGISTRY)
BARGE_REACTION = Histogram(
    "forkline_media_barge_in_reaction_seconds", "Interruption signal to clear sent",
    buckets=(0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25), registry=REGISTRY,
)
HEAP_TRIM = Histogram(
    "forkline_heap_trim_seconds", "Time a malloc_trim held the worker (media/heaptrim.py)",
    buckets=(0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05), registry=REGISTRY,
)
REPLAYED = Counter("forkline_media_replayed_frames", "Frames replayed after a reconnect",
                   ["direction"], registry=REGISTRY)
DROPS = Counter("forkline_media_dropped_streams", "Streams detected as dropped",
                registry=REGISTRY)
DUPLICATES = Counter("forkline_media_duplicate_sockets", "Older sockets fenced by a newer one",
                     registry=REGISTRY)
BACKEND_FAILURES = Counter("forkline_media_backend_failures", "AI backend errors survived",
                           ["code"], registry=REGISTRY)
STREAMS = Gauge("forkline_media_streams_open", "Open media sockets", ["kind"], registry=REGISTRY,
                multiprocess_mode="livesum")
AWAITING_START = Gauge("forkline_media_sockets_awaiting_start",
                       "Upgraded sockets that have not sent a valid start yet", registry=REGISTRY,
                       multiprocess_mode="livesum")
START_TIMEOUTS = Counter("forkline_media_start_timeouts",
                         "Sockets closed for sending no valid start in time", registry=REGISTRY)
AI_CAP_REFUSED = Counter("forkline_media_ai_cap_refused",
                         "AI sockets closed because the tenant's AI cap was reached",
                         registry=REGISTRY)
STATE_WRITES = Counter(
    "forkline_state_writes", "Media-plane state writes by outcome: landed (committed), retried"
    " (an attempt failed on the database connection), failed (gave up or not retryable),"
    " dropped (the bounded queue was full)", ["outcome"], registry=REGISTRY)
BUS_SIGNALS = Counter("forkline_bus_signals", "Cross-worker signals published, by outcome:"
                      " sent, failed (Redis unavailable), stale (queued too long), dropped"
                      " (outbox full)", ["outcome"], registry=REGISTRY)
STATE_QUEUED = Gauge("forkline_state_writes_queued", "State writes waiting for the database",
                     registry=REGISTRY)
WORKER_PID = Gauge("forkline_worker_pid", "PIDs of the workers this scrape sums (one"
                   " sample per live worker)", registry=REGISTRY,
                   multiprocess_mode="liveall")
WORKER_CONNECTIONS = Gauge("forkline_worker_connections_limit",
                           "gunicorn worker_connections: connections one worker accepts",
                           registry=REGISTRY, multiprocess_mode="livemax")
WORKERS = Gauge("forkline_workers_live", "Worker processes whose samples this scrape sums",
                registry=REGISTRY, multiprocess_mode="livesum")

bp = Blueprint("media_metrics", __name__)


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus text exposition of the media plane's counters (bearer METRICS_TOKEN if set)."""
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if not hmac.compare_digest(given.encode(), token.encode()):
            abort(401, description="metrics need the METRICS_TOKEN bearer token")
    return Response(exposition(current_app.config.get("METRICS_MULTIPROC_DIR")),
                    mimetype=CONTENT_TYPE_LATEST)


def exposition(multiproc_dir: str | None) -> bytes:
    """Every worker's samples summed (multiprocess mode), else this process's registry."""
    for publish in BEFORE_SCRAPE:  # this worker's published gauges, fresh for this scrape
        publish()
    if not multiproc_dir:
        return generate_latest(REGISTRY)
    from prometheus_client import multiprocess

    merged = CollectorRegistry()
    multiprocess.MultiProcessCollector(merged, path=multiproc_dir)
    # Collectors read at scrape time (the CPU pool) are this worker's alone.
    local = CollectorRegistry()
    for collector in SCRAPE_TIME:
        local.register(collector)
    return generate_latest(merged) + generate_latest(local)


def before_scrape(publish) -> None:
    """Run `publish()` before each exposition (it updates metric objects; once per process)."""
    if publish not in BEFORE_SCRAPE:
        BEFORE_SCRAPE.append(publish)


def register_scrape_time(collector) -> None:
    """Register a collector read at scrape time (not a metric object, so never in the files)."""
    REGISTRY.register(collector)
    SCRAPE_TIME.append(collector)


def value(name: str, **labels: str) -> float:
    """Current value of a sample in this process (for tests and benches)."""
    got = REGISTRY.get_sample_value(name, labels or None)
    return got or 0.0
