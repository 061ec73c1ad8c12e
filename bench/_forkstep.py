"""One step of the fork bench: N one-way human forks against a pinned server, and its baseline.

The forks are the conference bench's (bench/_confgen.py with only the customer and agent legs:
signed upgrades, `start`, a 20 ms mu-law frame each, real espeak-ng speech alternating with
silence). Frames lost are counted by the server: sent by the generators minus
`forkline_media_frames_in_total{kind="fork"}` (or the bare sink's /stats) once every socket closed.
"""
from __future__ import annotations

import math
import os
import time

import orjson
from websockets.sync.client import connect

from bench import _loopstall, _procstat
from bench._confserver import ConferenceServer, buckets, scrape_workers, total
from bench._confstep import (
    BacklogWatch,
    finish,
    go,
    hist_quantile,
    server_cpu,
    settle,
    spawn_gens,
    stop_gens,
)
from bench._targets import BareRelay

LEGS = ("customer", "agent")  # two forks per conference: they take turns talking
FRAMES_PER_S = 50


class BareForkSink(BareRelay):
    """bench/bare_relay.py --sink, shaped like a ConferenceServer for spawn_gens and settle."""

    name = "bare"
    flags = ("--sink",)
    agent = "none"
    rss_base = 0

    def url(self, path: str) -> str:  # type: ignore[override]
        return f"ws://127.0.0.1:{self.port}/twilio/{path}"

    def signed(self, path: str) -> dict:
        """No signature: the baseline checks nothing."""
        return {}

    def conference(self, index: int, run: int, legs: tuple[str, ...]) -> dict:
        """Call sids and start parameters of conference `index` (no tokens)."""
        out: dict = {"index": index}
        for n, label in enumerate(legs):
            out[label] = [f"C{'ABC'[n]}{run:08x}{index:022x}", {"label": label, "role": label}]
        return out

    def workers_pids(self) -> list[int]:
        """No workers: the relay is one process."""
        return []


def probe(server) -> dict:
    """Fork frames in, forks open, loop-stall buckets and skipped/done utterances, right now."""
    if isinstance(server, BareForkSink):
        with connect(f"ws://127.0.0.1:{server.port}/stats", open_timeout=10) as ws:
            got = orjson.loads(ws.recv(timeout=10))
        return {"frames_in": got["frames_in"], "open": got["open"], "skipped": 0.0, "done": 0.0,
                "stall": {float(b): c for b, c in got["stall"].items()}}
    seen = scrape_workers(server.port, server.workers)
    # Fork transcripts decode one whole utterance per pool task (kind fork_stt); the shared
    # transcriber skips utterances before the pool too when its decoders' queue is full.
    skipped = sum(total(seen, "forkline_cpu_pool_skipped_total", kind=k)
                  for k in ("fork_stt", "fork_stt_timeout", "fork_stt_crashed"))
    skipped += total(seen, "forkline_transcript_skipped_utterances_total")
    return {"frames_in": total(seen, "forkline_media_frames_in_total", kind="fork"),
            "open": total(seen, "forkline_media_streams_open", kind="fork"), "skipped": skipped,
            "done": total(seen, "forkline_cpu_pool_done_total", kind="fork_stt"),
            "stall": buckets(seen, _loopstall.NAME)}


def wait_closed(server, timeout_s: float = 30.0) -> dict:
    """Probe until no fork is open (Forkline flushes its frame counters at close)."""
    deadline = time.monotonic() + timeout_s
    seen = probe(server)
    while seen["open"] and time.monotonic() < deadline:
        time.sleep(0.2)  # polling across a process boundary: there is no event to wait on
        seen = probe(server)
    return seen


def rss(server) -> int:
    """RSS of the server: the gunicorn master and worker, or the relay (not the CPU pool)."""
    pids = [server.proc.pid, *server.workers_pids()] if server.workers_pids() else server.pids()
    return sum(_procstat.rss_bytes(p) for p in pids)


def measure(server, forks: int, args, label: str) -> dict:
    """Run `forks` forks (rounded up to whole conferences) once; never leaves a generator."""
    gens: list = []
    try:
        return _measure(server, math.ceil(forks / len(LEGS)), args, label, gens)
    finally:
        stop_gens(gens)


def _measure(server, confs: int, args, label: str, gens: list) -> dict:
    before = wait_closed(server)
    gens += spawn_gens(server, confs, args, legs=LEGS)
    connected = sum(int(g.stdout.readline().split()[1]) for g in gens)
    if args.nice:
        from bench.media_bench import set_nice

        set_nice(server.pids() + [g.pid for g in gens], args.nice)
    busy = settle(server)
    start = go(gens)
    time.sleep(max(0.0, start + args.warmup - time.time()))
    watch = BacklogWatch(server) if isinstance(server, ConferenceServer) else None
    p0 = probe(server)
    pids, cpu0 = server_cpu(server)
    s0 = _procstat.sample(pids)
    time.sleep(args.duration)
    pids1, cpu1 = server_cpu(server)
    s1 = _procstat.sample(pids1)
    p1 = probe(server)
    if watch is not None:
        watch.stop()
    resident = rss(server)
    results = finish(gens, args.warmup + args.duration + args.drain + 90)
    after = wait_closed(server)
    forks = confs * len(LEGS)
    elapsed = max(s1.wall - s0.wall, 1e-9)
    sent = sum(c["sent"] for c in results)
    return {
        "target": label, "forks": forks, "connected": connected, "sent": sent,
        "lost": max(0, int(sent - (after["frames_in"] - before["frames_in"]))),
        "loop_stall_p99": hist_quantile(p0["stall"], p1["stall"], 0.99),
        "loop_stall_max": hist_quantile(p0["stall"], p1["stall"], 1.0),
        "stt_skipped": p1["skipped"] - p0["skipped"], "stt_done": p1["done"] - p0["done"],
        "backlog_frames_max": watch.max_frames if watch else None,
        "server_cpu": 100.0 * (cpu1 - cpu0) / elapsed,
        "us_per_frame": 1e6 * (cpu1 - cpu0) / (forks * FRAMES_PER_S * elapsed),
        "machine_cpu": _procstat.machine_percent(s0, s1),
        "server_wait": _procstat.wait_percent(s0, s1, pids1),
        "rss_mb": resident / 2**20,
        "kb_per_fork": (resident - server.rss_base) / 1024 / forks,
        "late": sum(c["late"] for c in results), "settle_s": busy,
        "loadavg": os.getloadavg()[0],
        "errors": [e for c in results for e in c["errors"]][:5],
    }


def judge(row: dict, limit_ms: float) -> bool:
    """Capacity criteria: every fork connected, no frame lost, loop stall p99 <= the limit
    (a bucket bound: the (20, 40] ms bucket passes 40 ms). Skipped STT work is allowed."""
    stall = row.get("loop_stall_p99")
    return bool(row.get("connected") == row["forks"] and row.get("lost", 1) == 0
                and not row.get("errors") and stall is not None and stall <= limit_ms / 1000)
