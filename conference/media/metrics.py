"""Prometheus counters of the media plane, exposed on /metrics."""
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

FRAMES_IN = Counter("forkline_media_frames_in", "Media frames received", ["kind"],
                    registry=REGISTRY)
FRAMES_OUT = Counter("forkline_media_messages_out", "Media messages sent to Twilio",
                     registry=REGISTRY)
BYTES_OUT = Counter("forkline_media_bytes_out", "mu-law bytes sent to Twilio", registry=REGISTRY)
MALFORMED = Counter("forkline_media_malformed", "Messages counted and skipped", ["reason"],
                    registry=REGISTRY)
LATE = Counter("forkline_media_late_frames", "Out-of-order or duplicate frames",
               registry=REGISTRY)
GAPS = Counter("forkline_media_sequence_gaps", "Sequence numbers never received",
               registry=REGISTRY)
MARKS_OUT = Gauge("forkline_media_marks_outstanding", "Marks sent and not yet echoed",
                  registry=REGISTRY)
CLEARS = Counter("forkline_media_clears", "clear messages sent", registry=REGISTRY)
BARGE_INS = Counter("forkline_media_barge_ins", "Barge-ins", ["source"], registry=REGISTRY)
BARGE_REACTION = Histogram(
    "forkline_media_barge_in_reaction_seconds", "Interruption signal to clear sent",
    buckets=(0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25), registry=REGISTRY,
)
REPLAYED = Counter("forkline_media_replayed_frames", "Frames replayed after a reconnect",
                   ["direction"], registry=REGISTRY)
DROPS = Counter("forkline_media_dropped_streams", "Streams detected as dropped",
                registry=REGISTRY)
DUPLICATES = Counter("forkline_media_duplicate_sockets", "Older sockets fenced by a newer one",
                     registry=REGISTRY)
BACKEND_FAILURES = Counter("forkline_media_backend_failures", "AI backend errors survived",
                           ["code"], registry=REGISTRY)
STREAMS = Gauge("forkline_media_streams_open", "Open media sockets", ["kind"], registry=REGISTRY)
AWAITING_START = Gauge("forkline_media_sockets_awaiting_start",
                       "Upgraded sockets that have not sent a valid start yet", registry=REGISTRY)
START_TIMEOUTS = Counter("forkline_media_start_timeouts",
                         "Sockets closed for sending no valid start in time", registry=REGISTRY)
AI_CAP_REFUSED = Counter("forkline_media_ai_cap_refused",
                         "AI sockets closed because the tenant's AI cap was reached",
                         registry=REGISTRY)
WORKER_CONNECTIONS = Gauge("forkline_worker_connections_limit",
                           "gunicorn worker_connections: connections one worker accepts",
                           registry=REGISTRY)

WORKER_PID = Gauge("forkline_worker_pid",
                   "Process id of the worker that answered this scrape (per-worker views)",
                   registry=REGISTRY)

bp = Blueprint("media_metrics", __name__)


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus text exposition of the media plane's counters (bearer METRICS_TOKEN if set)."""
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if not hmac.compare_digest(given.encode(), token.encode()):
            abort(401, description="metrics need the METRICS_TOKEN bearer token")
    return Response(generate_latest(REGISTRY), mimetype=CONTENT_TYPE_LATEST)


def value(name: str, **labels: str) -> float:
    """Current value of a sample (for tests and benches)."""
    got = REGISTRY.get_sample_value(name, labels or None)
    return got or 0.0
