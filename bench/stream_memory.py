"""Memory per media stream at steady state: KB of RSS per AI stream and per fork, and why.

  .venv/bin/python -m bench.stream_memory [--conferences 30,130] [--seconds 14] [--top 12]

For each kind (AI legs on the echo agent, replay rings full; transcribed human forks) a fresh
gunicorn worker (bench/_confserver.py, pinned to core 0, generators on core 1) is warmed with
one conference, snapshotted, then holds N streams for --seconds and is snapshotted again
(bench/_memsnap.py via bench/_hook_conf.py). Two servers per kind: one for RSS (no tracing),
one under tracemalloc for the Python heap's top allocations. Prints per stream: RSS, the traced
heap, greenlets and the C stack they keep on the heap (greenlet's `_stack_saved`, inside the
traced heap), resident memory by allocator (bench/_allocstats.py: the brk heap vs
anonymous mappings, glibc's and pymalloc's bytes in use and free), live objects by type and the
top allocation sites; --keep DIR keeps the snapshots for a closer look. Not a test.

With two or more sizes (--conferences 30,130) it also prints the marginal cost: the growth's
slope between the smallest and the largest size (KB per added stream), and the fixed part
(per-process costs a first burst of streams brings: pools, caches, the heap's holes). The
slope is the per-stream figure; the division at one N carries the fixed part with it.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import tempfile
import time
import tracemalloc
from pathlib import Path

from bench._confserver import ConferenceServer
from bench._confstep import finish, go, settle, spawn_gens, stop_gens, workdir_for
from bench._targets import ROOT

KINDS = {"ai": ("ai",), "fork": ("customer", "agent")}


def snapshot(server: ConferenceServer, hook_dir: Path) -> tuple[dict, Path]:
    """SIGUSR2 the (single) worker and wait for its snapshot files."""
    (pid,) = server.workers_pids()
    before = set(hook_dir.glob(f"snap-{pid}-*.json"))
    os.kill(pid, signal.SIGUSR2)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        new = set(hook_dir.glob(f"snap-{pid}-*.json")) - before
        if new:
            path = new.pop()
            time.sleep(0.2)  # the json is written last; let the write finish
            path.with_suffix(".smaps").write_bytes(Path(f"/proc/{pid}/smaps").read_bytes())
            return json.loads(path.read_text()), path.with_suffix(".tracemalloc")
        time.sleep(0.05)  # files from another process: nothing to wait on but the directory
    raise TimeoutError("no snapshot from the worker")


def run_kind(base: Path, kind: str, hook: str, conferences: int, args) -> dict:
    """One fresh server: baseline snapshot, N streams held, snapshot at steady state."""
    hook_dir = base / f"{kind}-{hook}-{conferences}"
    server = ConferenceServer(workdir_for(base, f"srv-{kind}-{hook}-{conferences}"), workers=1,
                              agent="echo", cpu="0", database_url=args.database_url,
                              extra_env=dict(kv.split("=", 1) for kv in args.env))
    server.hook = (hook, str(hook_dir))
    hook_dir = hook_dir / server.name
    legs = KINDS[kind]
    run = argparse.Namespace(warmup=1.0, duration=args.seconds, drain=1.0, gen_cpu="1",
                             confs_per_proc=30, connect_concurrency=16)
    server.start(conferences + 10)
    gens: list = []
    try:
        warm = argparse.Namespace(**{**vars(run), "duration": 3.0})
        gens = spawn_gens(server, 1, warm)  # one whole conference: every code path imported
        [g.stdout.readline() for g in gens]
        go(gens)
        finish(gens, 60)
        settle(server)
        zero, zero_trace = snapshot(server, hook_dir)
        gens = spawn_gens(server, conferences, run, legs)
        connected = sum(int(g.stdout.readline().split()[1]) for g in gens)
        settle(server)
        start = go(gens)
        time.sleep(max(0.0, start + run.warmup + args.seconds - 1.0 - time.time()))
        full, full_trace = snapshot(server, hook_dir)
        finish(gens, 120)
        settle(server)
        after, _ = snapshot(server, hook_dir)
    finally:
        stop_gens(gens)
        server.stop()
    streams = conferences * len(legs)
    out = {"kind": kind, "hook": hook, "streams": streams, "connected": connected,
           "rss_growth_kb": (full["rss"] - zero["rss"]) / 1024,
           "alloc_growth_kb": {k: (v - zero.get("alloc", {}).get(k, 0)) / 1024
                               for k, v in full.get("alloc", {}).items()},
           "rss_kb": (full["rss"] - zero["rss"]) / 1024 / streams,
           "rss_after_close_kb": (after["rss"] - zero["rss"]) / 1024 / streams,
           "greenlets": (full["greenlets"] - zero["greenlets"]) / streams,
           "trim_ms": full.get("trim_ms"),
           "stack_saved_kb": (full["stack_saved"] - zero["stack_saved"]) / 1024 / streams,
           "greenlets_by_run": full["greenlets_by_run"], "stack_by_run": full["stack_by_run"],
           "unplayed_kb": (full["unplayed_bytes"] - zero["unplayed_bytes"]) / 1024 / streams,
           "unacked_ms": full["unacked_bytes"] / 8 / max(1, full["trackers"]),
           "oldest_mark_ms": full["oldest_mark_ms"],
           "transcript_queue_frames": (full["transcript_queue_frames"]
                                       - zero["transcript_queue_frames"]) / streams,
            "transcript_decode_kb": full.get("transcript_decode_bytes", 0) / 1024 / streams,
            "types": per_stream_types(zero["types"], full["types"], streams),
            "alloc_kb": {k: (v - zero.get("alloc", {}).get(k, 0)) / 1024 / streams
                         for k, v in full.get("alloc", {}).items()}}
    if hook == "tracemalloc":
        out["traced_growth_kb"] = (full["traced"] - zero["traced"]) / 1024
        out["traced_kb"] = out["traced_growth_kb"] / streams
        out["traced_peak_kb"] = (full["traced_peak"] - zero["traced"]) / 1024 / streams
        out["top"] = top_sites(zero_trace, full_trace, streams, args.top)
    return out


def per_stream_types(zero: dict, full: dict, streams: int) -> dict:
    """Live objects by type gained per stream (the per-socket objects, e.g. 2.0 dict)."""
    grown = {t: (full.get(t, 0) - zero.get(t, 0)) / streams for t in full}
    return {t: round(v, 2) for t, v in sorted(grown.items(), key=lambda kv: -kv[1]) if v >= 0.5}


def _project_frame(traceback) -> str:
    """The newest frame in Forkline's own code (not the venv, not this bench), as file:line."""
    for f in reversed(traceback):  # tracemalloc lists the oldest frame first
        if f.filename.startswith(str(ROOT)) and "/.venv/" not in f.filename \
                and "/bench/" not in f.filename:
            return f"{Path(f.filename).relative_to(ROOT)}:{f.lineno}"
    return f"(outside: {Path(traceback[0].filename).name}:{traceback[0].lineno})"


def top_sites(zero: Path, full: Path, streams: int, top: int) -> dict[str, list[str]]:
    """Bytes and blocks gained per stream, summed by the project line that allocated them
    (the newest frame in Forkline's code) and by project file."""
    keep = [tracemalloc.Filter(False, tracemalloc.__file__)]
    a = tracemalloc.Snapshot.load(str(zero)).filter_traces(keep)
    b = tracemalloc.Snapshot.load(str(full)).filter_traces(keep)
    by_line: dict[str, list[float]] = {}
    for stat in b.compare_to(a, "traceback"):
        got = by_line.setdefault(_project_frame(stat.traceback), [0.0, 0.0])
        got[0] += stat.size_diff
        got[1] += stat.count_diff
    by_file: dict[str, float] = {}
    for key, (size, _) in by_line.items():
        name = key.rsplit(":", 1)[0] if not key.startswith("(") else "(outside the project)"
        by_file[name] = by_file.get(name, 0.0) + size

    def rows(items, fmt):
        return [fmt(k, v) for k, v in sorted(items, key=lambda kv: -abs(
            kv[1][0] if isinstance(kv[1], list) else kv[1]))[:top]]

    return {
        "lines": rows(by_line.items(), lambda k, v: f"{v[0] / streams / 1024:7.2f} KB "
                                                    f"{v[1] / streams:6.1f} blocks  {k}"),
        "files": rows(by_file.items(), lambda k, v: f"{v / streams / 1024:7.2f} KB  {k}")}


def report(r: dict) -> None:
    """Print one kind's result."""
    print(f"\n[{r['kind']} / {r['hook']}] {r['streams']} streams ({r['connected']} connected): "
          f"RSS {r['rss_kb']:.1f} KB/stream (after close {r['rss_after_close_kb']:.1f}), "
          f"greenlets {r['greenlets']:.2f}/stream, saved C stack {r['stack_saved_kb']:.1f} "
          f"KB/stream" + (f", traced heap {r['traced_kb']:.1f} KB/stream (high-water "
                          f"{r['traced_peak_kb']:.1f})" if "traced_kb" in r else ""))
    print(f"  backlog per stream: AI output unplayed {r['unplayed_kb']:.1f} KB (unacknowledged "
          f"{r['unacked_ms']:.0f} ms, oldest unechoed mark {r['oldest_mark_ms']:.0f} ms: a queue "
          f"builds while the mark round trip exceeds the lead), transcript queue "
          f"{r['transcript_queue_frames']:.1f} frames, utterances waiting for a decoder "
          f"{r['transcript_decode_kb']:.1f} KB")
    print("  greenlets by run:", r["greenlets_by_run"])
    if r.get("trim_ms") is not None:
        print(f"  one malloc_trim of this heap (after the readings): {r['trim_ms']:.2f} ms")
    print("  saved C stack by run (bytes, all streams):", r["stack_by_run"])
    print("  objects per stream:", dict(list(r["types"].items())[:14]))
    print("  KB per stream by allocator (RSS by mapping; glibc and pymalloc in use / free):",
          {k: round(v, 1) for k, v in r["alloc_kb"].items()})
    if "top" in r:
        print("  traced heap gained per stream, by the project line that allocated it:")
        for line in r["top"]["lines"]:
            print("    " + line)
        print("  ... and by project file:")
        for line in r["top"]["files"]:
            print("    " + line)


def marginal(small: dict, large: dict) -> dict:
    """Slope (KB per added stream) and fixed part (KB) between two sizes of one kind."""
    added = large["streams"] - small["streams"]

    def slope(a: float, b: float) -> float:
        return (b - a) / added

    out = {"kind": small["kind"], "hook": small["hook"], "streams": (small["streams"],
                                                                     large["streams"]),
           "rss_kb": slope(small["rss_growth_kb"], large["rss_growth_kb"]),
           "alloc_kb": {k: slope(small["alloc_growth_kb"].get(k, 0.0), v)
                        for k, v in large["alloc_growth_kb"].items()}}
    out["fixed_kb"] = small["rss_growth_kb"] - out["rss_kb"] * small["streams"]
    if "traced_growth_kb" in small:
        out["traced_kb"] = slope(small["traced_growth_kb"], large["traced_growth_kb"])
    return out


def report_marginal(m: dict) -> None:
    """Print one kind's marginal cost."""
    a, b = m["streams"]
    print(f"\n[{m['kind']} / {m['hook']}] marginal, {a} -> {b} streams: RSS {m['rss_kb']:.1f} KB "
          f"per added stream (fixed part {m['fixed_kb']:.0f} KB)" + (
              f", traced heap {m['traced_kb']:.1f} KB per added stream" if "traced_kb" in m
              else ""))
    print("  KB per added stream by allocator:",
          {k: round(v, 1) for k, v in m["alloc_kb"].items()})


def main() -> None:
    """Both kinds, RSS run then tracemalloc run; print, and JSON with --json."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--conferences", default="30,130",
                   help="sizes (comma-separated); two or more also give the marginal cost")
    p.add_argument("--seconds", type=float, default=14.0, help="> 12 s: replay rings full")
    p.add_argument("--kinds", default="ai,fork")
    p.add_argument("--hooks", default="memsnap,tracemalloc")
    p.add_argument("--top", type=int, default=12)
    p.add_argument("--database-url", default="pg")
    p.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                   help="extra server environment, e.g. an allocator setting to try")
    p.add_argument("--json")
    p.add_argument("--keep", metavar="DIR",
                   help="keep the snapshots (.json, .tracemalloc, .smaps) here")
    args = p.parse_args()
    print(f"stream memory {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}, "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)
    results = []
    with tempfile.TemporaryDirectory(prefix="stream-mem-") as tmp:
        base = Path(args.keep or tmp)
        sizes = sorted(int(n) for n in args.conferences.split(","))
        for kind in args.kinds.split(","):
            for hook in args.hooks.split(","):
                runs = []
                for conferences in sizes:
                    runs.append(run_kind(base, kind, hook, conferences, args))
                    report(runs[-1])
                results.extend(runs)
                if len(runs) > 1:
                    results.append(marginal(runs[0], runs[-1]))
                    report_marginal(results[-1])
    print(f"\nload average at end {os.getloadavg()[0]:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
