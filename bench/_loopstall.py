"""A server's forkline_loop_stall_seconds over one bench step (scraped from /metrics).

Two scrapes bracket the measured window; the bucket deltas give the step's distribution of
per-second worst hub stalls. p99 and max are reported as bucket upper bounds (the histogram's
resolution). With several workers each scrape reaches one of them. None when no /metrics.
"""
from __future__ import annotations

import math
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

NAME = "forkline_loop_stall_seconds"


def snapshot(port: int) -> dict[float, float] | None:
    """Cumulative bucket counts (le -> count) of the server on `port`, or None."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
    except OSError:
        return None
    buckets = {float(s.labels["le"]): s.value for family in text_string_to_metric_families(text)
               if family.name == NAME for s in family.samples if s.name == NAME + "_bucket"}
    return buckets or None


def step(before: dict | None, after: dict | None) -> dict:
    """loop_stall_p99_s / loop_stall_max_s (bucket bounds) and windows seen in the step."""
    if not before or not after:
        return {"loop_stall_p99_s": None, "loop_stall_max_s": None, "loop_stall_windows": 0}
    bounds = sorted(after)
    cumulative = [after[b] - before.get(b, 0.0) for b in bounds]
    total = cumulative[-1]

    def quantile(q: float) -> float | None:
        for bound, count in zip(bounds, cumulative, strict=True):
            if count >= q * total:
                return None if math.isinf(bound) else bound
        return None

    return {"loop_stall_p99_s": quantile(0.99) if total else None,
            "loop_stall_max_s": quantile(1.0) if total else None,
            "loop_stall_windows": int(total)}
