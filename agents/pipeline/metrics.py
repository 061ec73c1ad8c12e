"""Per-turn latency metrics: an event the host can store, and Prometheus histograms."""
from __future__ import annotations

from prometheus_client import Histogram

from agents.base import TurnMetrics

__all__ = ["STAGES", "STAGE_SECONDS", "TurnMetrics", "observe"]

STAGES = ("stt", "llm_first_token", "tts_first_audio", "end_to_end")

# Registered once in the default registry; the media plane serves it on /metrics.
STAGE_SECONDS = Histogram(
    "forkline_agent_stage_seconds",
    "Per-turn latency of each AI pipeline stage",
    ["backend", "stage"],
    buckets=(0.025, 0.05, 0.1, 0.2, 0.3, 0.45, 0.6, 0.8, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0),
)


def observe(metrics: TurnMetrics) -> None:
    """Export a finished turn to the Prometheus histograms."""
    values = (
        metrics.stt_ms,
        metrics.llm_first_token_ms,
        metrics.tts_first_audio_ms,
        metrics.end_to_end_ms,
    )
    for stage, value in zip(STAGES, values, strict=True):
        if value is not None:
            STAGE_SECONDS.labels(metrics.backend, stage).observe(value / 1000)
