"""Summaries of benchmark steps: percentiles, per-stream costs, the table and capacities."""
from __future__ import annotations

import math
import os
import statistics
from collections import Counter


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of `values` (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


def latency_summary(values: list[float]) -> dict:
    """n, median, p95, min and max (rounded to 0.1) of latencies in ms."""
    values = sorted(values)
    return {"n": len(values), "p50_ms": round(statistics.median(values), 1),
            "p95_ms": round(values[int(0.95 * (len(values) - 1))], 1),
            "min_ms": round(values[0], 1), "max_ms": round(values[-1], 1)}


def step_summary(name: str, n: int, connected: int, streams: list[dict], *, server_cpu: float,
                 gen_cpu: float, machine_cpu: float, rss: int, rss_base: int,
                 limit_ms: float, server_wait: float = 0.0, gen_wait: float = 0.0,
                 busy_after_connect: float = 0.0) -> dict:
    """Merge the per-stream results of one step into one row."""
    rtts = [r for s in streams for r in s["rtt_ms"]]
    total = {k: sum(s[k] for s in streams) for k in (
        "sent", "received", "lost", "late", "media_msgs", "media_bytes", "marks", "clears",
        "garbage_bytes", "foreign_sid")}
    errors = sorted({s["error"] for s in streams if s["error"]})
    # Frame slots (20 ms) where most streams were slow at once: a worker-wide pause (GC, a
    # blocking call) rather than a CPU shortage, which spreads slowness over time and streams.
    slow = Counter(k for s in streams for k in s["slow_frames"])
    stalls = sorted(k for k, count in slow.items() if count >= n / 2)
    p99 = percentile(rtts, 99)
    passed = connected == n and total["lost"] == 0 and p99 is not None and p99 < limit_ms
    return {
        "target": name, "streams": n, "connected": connected, **total,
        "p50_ms": percentile(rtts, 50), "p99_ms": p99, "max_ms": max(rtts, default=None),
        "server_cpu_pct": round(server_cpu, 1), "cpu_pct_per_stream": round(server_cpu / n, 3),
        "server_rss_mb": round(rss / 2**20, 1),
        "rss_kb_per_stream": round(max(rss - rss_base, 0) / n / 1024, 1),
        "generator_cpu_pct": round(gen_cpu, 1), "machine_cpu_pct": round(machine_cpu, 1),
        "other_cpu_pct": round(max(machine_cpu - server_cpu - gen_cpu, 0.0), 1),
        # Runnable-but-not-running time: how much other processes on the box got in the way.
        "server_runq_wait_pct": round(server_wait, 1),
        "generator_runq_wait_pct": round(gen_wait, 1),
        "ms_per_media_msg": round(total["media_bytes"] / 8 / total["media_msgs"], 1)
        if total["media_msgs"] else None,
        "busy_after_connect_s": round(busy_after_connect, 2),
        "slow_frames": sum(slow.values()), "stall_slots": len(stalls),
        "stall_at_s": [round(k * 0.02, 2) for k in stalls[:20]],
        "errors": errors[:3], "passed": passed,
    }


_COLUMNS = (
    ("target", "target", "{}"), ("N", "streams", "{}"), ("conn", "connected", "{}"),
    ("p50ms", "p50_ms", "{:.1f}"), ("p99ms", "p99_ms", "{:.1f}"), ("maxms", "max_ms", "{:.0f}"),
    ("lost", "lost", "{}"), ("late", "late", "{}"), ("srvCPU%", "server_cpu_pct", "{:.0f}"),
    ("CPU%/st", "cpu_pct_per_stream", "{:.2f}"), ("RSS MB", "server_rss_mb", "{:.0f}"),
    ("KB/st", "rss_kb_per_stream", "{:.0f}"), ("genCPU%", "generator_cpu_pct", "{:.0f}"),
    ("other%", "other_cpu_pct", "{:.0f}"), ("stalls", "stall_slots", "{}"),
    ("srvWt%", "server_runq_wait_pct", "{:.0f}"),
    ("genWt%", "generator_runq_wait_pct", "{:.0f}"), ("ms/msg", "ms_per_media_msg", "{:.0f}"),
    ("setup s", "busy_after_connect_s", "{:.1f}"), ("ok", "passed", "{}"),
)
_WIDTHS = (9, 5, 5, 6, 6, 6, 6, 5, 8, 8, 7, 6, 8, 7, 7, 7, 7, 7, 8, 4)
_header_printed = False


def _row(values) -> str:
    return " ".join(str(v).rjust(w) for v, w in zip(values, _WIDTHS, strict=True))


def print_step(step: dict) -> None:
    """Print one table row as soon as the step is done (header first)."""
    global _header_printed
    if not _header_printed:
        print(_row(c[0] for c in _COLUMNS), flush=True)
        _header_printed = True
    cells = []
    for _, key, fmt in _COLUMNS:
        value = step[key]
        cells.append("-" if value is None else ("yes" if value is True else "NO")
                     if isinstance(value, bool) else fmt.format(value))
    print(_row(cells), flush=True)
    for error in step["errors"]:
        print(f"    {step['target']} error: {error}", flush=True)


def capacities(results: list[dict], names: list[str]) -> dict:
    """Per target: the largest passing N, and whether no step failed (capacity is a floor)."""
    out = {}
    for name in names:
        rows = [r for r in results if r["target"] == name]
        if not rows:
            continue
        passed = [r["streams"] for r in rows if r["passed"]]
        out[name] = {"capacity": max(passed, default=0),
                     "capped": all(r["passed"] for r in rows)}
    return out


def print_summary(results: list[dict], names: list[str], errors: dict, meta: dict) -> dict:
    """Print capacities and ratios to the bare relay; return the full report."""
    caps = capacities(results, names)
    base = caps.get("bare", {}).get("capacity")
    print(f"\nmachine: {meta['cpus']} cpus, load average {meta['loadavg_start'][0]:.2f} at start,"
          f" {os.getloadavg()[0]:.2f} at end")
    for name, cap in caps.items():
        floor = " (no step failed: a floor)" if cap["capped"] else ""
        ratio = f", {cap['capacity'] / base:.2f}x bare" if base and name != "bare" else ""
        cap["ratio_to_bare"] = round(cap["capacity"] / base, 2) if base else None
        print(f"capacity {name:9}: {cap['capacity']} streams{floor}{ratio}")
    for name, error in errors.items():
        print(f"capacity {name:9}: not measured ({error.splitlines()[0]})")
    return {"meta": meta, "steps": results, "capacity": caps, "errors": errors}


def markdown(report: dict) -> str:
    """The capacities and a compact per-step table, as Markdown (for bench/README.md)."""
    meta, caps = report["meta"], report["capacity"]
    lines = [f"Run of {meta['started']}, load average {meta['loadavg_start'][0]:.2f} at start, "
             f"{meta['loadavg_end'][0]:.2f} at end; gunicorn workers: {meta['args']['workers']}, "
             f"nice: {meta['args']['nice']}.", "",
             "| target | capacity | × bare |", "|---|---|---|"]
    for name, cap in caps.items():
        floor = " (no step failed)" if cap["capped"] else ""
        ratio = cap.get("ratio_to_bare")
        lines.append(f"| {name} | {cap['capacity']}{floor} | {'' if ratio is None else ratio} |")
    lines += ["", "| target | N | p50 ms | p99 ms | lost | late | server CPU % | CPU %/stream "
              "| RSS MB | KB/stream | gen CPU % | other CPU % | stalls | ok |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in report["steps"]:
        p50 = "-" if s["p50_ms"] is None else f"{s['p50_ms']:.1f}"
        p99 = "-" if s["p99_ms"] is None else f"{s['p99_ms']:.1f}"
        lines.append(
            f"| {s['target']} | {s['streams']} | {p50} | {p99} | {s['lost']} | {s['late']} "
            f"| {s['server_cpu_pct']:.0f} | {s['cpu_pct_per_stream']:.2f} "
            f"| {s['server_rss_mb']:.0f} | {s['rss_kb_per_stream']:.0f} "
            f"| {s['generator_cpu_pct']:.0f} | {s['other_cpu_pct']:.0f} | {s['stall_slots']} "
            f"| {'yes' if s['passed'] else 'NO'} |")
    return "\n".join(lines) + "\n"
