"""One step of the conference bench: N conferences against a running ConferenceServer.

Starts the generator processes (bench/_confgen.py), waits for every leg to connect and for the
server to go idle, runs them together, and returns the merged measurements: per-frame round
trips (echo), first audio, barge-in reactions, loop stalls, fork backlog, CPU, RSS, lost frames.
"""
from __future__ import annotations

import contextlib
import math
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import orjson

from bench import _loopstall, _procstat
from bench._confserver import (
    ConferenceServer,
    buckets,
    established,
    reaped_cpu_seconds,
    scrape_workers,
    total,
)
from bench._targets import ACCOUNT_SID, ROOT, pinned

SPEECH = {"q": "What are your opening hours?", "b": "Sorry, one more thing."}
LEGS = ("customer", "agent", "ai")
# CPU-pool task kinds that are speech recognition (agents.pipeline.factory), skipped or timed out
STT_KINDS = ("fork_stt", "agent_stt", "fork_stt_timeout", "agent_stt_timeout")


def speech_files() -> dict[str, str]:
    """espeak-ng speech as raw 8 kHz mu-law, synthesized once into .cache/bench-speech/."""
    from agents import speech

    folder = ROOT / ".cache" / "bench-speech"
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for key, text in SPEECH.items():
        path = folder / f"{key}.ulaw"
        if not path.exists():
            path.write_bytes(speech.synthesize_ulaw(text))
        paths[key] = str(path)
    return paths


def pct(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile, None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def hist_quantile(before: dict, after: dict, q: float) -> float | None:
    """Upper bucket bound holding quantile q of a histogram's delta (None: no samples)."""
    bounds = sorted(after)
    counts = [after[b] - before.get(b, 0.0) for b in bounds]
    if not counts or counts[-1] <= 0:
        return None
    for bound, count in zip(bounds, counts, strict=True):
        if count >= q * counts[-1]:
            return None if math.isinf(bound) else bound
    return None


def server_cpu(server: ConferenceServer) -> tuple[list[int], float]:
    """(pids, CPU seconds so far incl. reaped children of the workers)."""
    pids = server.pids()
    return pids, sum(_procstat.cpu_seconds(p) for p in pids) + sum(
        reaped_cpu_seconds(p) for p in server.workers_pids())


def settle(server: ConferenceServer, timeout_s: float = 15.0) -> float:
    """Wait until the server is idle (under 5% CPU over 0.25 s); seconds it took."""
    began = time.monotonic()
    _, before = server_cpu(server)
    while time.monotonic() < began + timeout_s:
        time.sleep(0.25)  # sampling CPU: there is no event to wait on
        _, now = server_cpu(server)
        if (now - before) / 0.25 < 0.05:
            break
        before = now
    return time.monotonic() - began


def spawn_gens(server: ConferenceServer, n: int, args, legs=LEGS, first: int = 0,
               duration: float | None = None, report_every: float = 0) -> list:
    """Generator processes for conferences first..first+n-1 (pinned to --gen-cpu if given)."""
    run = random.getrandbits(32)
    per = max(1, args.confs_per_proc)
    files = speech_files()
    gens = []
    for start in range(first, first + n, per):
        count = min(per, first + n - start)
        spec = {"fork_url": server.url("fork"), "ai_url": server.url("ai-stream"),
                "fork_headers": server.signed("fork"), "ai_headers": server.signed("ai-stream"),
                "account_sid": ACCOUNT_SID, "agent": server.agent,
                "conferences": [server.conference(i, run, legs) for i in range(start,
                                                                               start + count)],
                "total_conferences": n, "warmup_s": args.warmup,
                "duration_s": args.duration if duration is None else duration,
                "drain_s": args.drain, "q_path": files["q"], "b_path": files["b"],
                "report_every_s": report_every,
                "connect_concurrency": getattr(args, "connect_concurrency", 16)}
        argv = pinned([sys.executable, "-m", "bench._confgen"], args.gen_cpu)
        gen = subprocess.Popen(argv, cwd=ROOT, text=True, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, start_new_session=True)
        gen.stdin.write(orjson.dumps(spec).decode() + "\n")
        gen.stdin.flush()
        gens.append(gen)
    return gens


def stop_gens(gens: list) -> None:
    """Kill generator processes that are still running (a broken step)."""
    for gen in gens:
        if gen.poll() is None:
            gen.kill()
            gen.wait()


def go(gens: list) -> float:
    """Start every generator together; returns the start epoch."""
    start = time.time() + 0.3
    for gen in gens:
        gen.stdin.write(f"GO {start}\n")
        gen.stdin.flush()
    return start


def finish(gens: list, timeout_s: float) -> list[dict]:
    """Wait for DONE from all, hang up together, return every conference's result."""
    for gen in gens:
        while not gen.stdout.readline().startswith("DONE"):
            pass
    for gen in gens:
        gen.stdin.write("BYE\n")
        gen.stdin.flush()
    confs = []
    for gen in gens:
        out, _ = gen.communicate(timeout=timeout_s)
        confs += orjson.loads(out.splitlines()[-1])["conferences"]
    return confs


class BacklogWatch:
    """Samples the fork backlog (transcript queue, pool pending) every second in a thread."""

    def __init__(self, server: ConferenceServer) -> None:
        self.server, self.max_frames, self.max_pending = server, 0.0, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            with contextlib.suppress(Exception):
                seen = scrape_workers(self.server.port, self.server.workers, tries=8)
                self.max_frames = max(self.max_frames,
                                      total(seen, "forkline_transcript_backlog_frames"))
                self.max_pending = max(self.max_pending, total(seen, "forkline_cpu_pool_pending"))

    def stop(self) -> None:
        """End sampling."""
        self._stop.set()
        self._thread.join(timeout=10)


def frames_in(seen: dict) -> float:
    """Media frames the server counted (forks + AI legs), summed over workers."""
    return (total(seen, "forkline_media_frames_in_total", kind="fork")
            + total(seen, "forkline_media_frames_in_total", kind="ai"))


def dropped_bytes(seen: dict) -> float:
    """AI audio the server dropped because its item had been interrupted."""
    return total(seen, "forkline_media_ai_audio_dropped_bytes_total", reason="interrupted")


def wait_closed(server: ConferenceServer, timeout_s: float = 30.0) -> dict:
    """Scrape every worker until no media socket is open (counters are flushed at close)."""
    deadline = time.monotonic() + timeout_s
    seen: dict = {}
    while time.monotonic() < deadline:
        seen = scrape_workers(server.port, server.workers)
        open_now = (total(seen, "forkline_media_streams_open", kind="fork")
                    + total(seen, "forkline_media_streams_open", kind="ai"))
        if len(seen) >= server.workers and open_now == 0:
            return seen
        time.sleep(0.2)  # polling /metrics: no event crosses the process boundary
    return seen


def measure(server: ConferenceServer, n: int, args, legs=LEGS) -> dict:
    """Run one step of n conferences; never leaves a generator behind."""
    gens: list = []
    try:
        return _measure(server, n, args, legs, gens)
    finally:
        stop_gens(gens)


def _measure(server: ConferenceServer, n: int, args, legs, gens: list) -> dict:
    before_all = wait_closed(server)
    gens += spawn_gens(server, n, args, legs)
    connected = sum(int(g.stdout.readline().split()[1]) for g in gens)
    spread = sorted(established(server.workers_pids(), server.port).values(), reverse=True)
    if args.nice:
        from bench.media_bench import set_nice

        set_nice(server.pids() + [g.pid for g in gens], args.nice)
    busy = settle(server)
    start = go(gens)
    time.sleep(max(0.0, start + args.warmup - time.time()))
    watch = BacklogWatch(server)
    m0 = scrape_workers(server.port, server.workers)
    pids, cpu0 = server_cpu(server)
    s0 = _procstat.sample(pids)
    time.sleep(args.duration)
    pids1, cpu1 = server_cpu(server)
    s1 = _procstat.sample(pids1)
    m1 = scrape_workers(server.port, server.workers)
    watch.stop()
    rss_workers = sum(_procstat.rss_bytes(p) for p in [server.proc.pid, *server.workers_pids()])
    rss_pool = sum(_procstat.rss_bytes(p) for p in pids1) - rss_workers
    confs = finish(gens, args.warmup + args.duration + args.drain + 90)
    after_all = wait_closed(server)
    elapsed = max(s1.wall - s0.wall, 1e-9)
    stall0 = buckets(m0, _loopstall.NAME)
    stall1 = buckets(m1, _loopstall.NAME)
    barge0 = buckets(m0, "forkline_media_barge_in_reaction_seconds")
    barge1 = buckets(m1, "forkline_media_barge_in_reaction_seconds")
    sent = sum(c["sent"] for c in confs)
    server_lost = sent - (frames_in(after_all) - frames_in(before_all))
    # Echo audio the server dropped by design (its item was interrupted by a barge-in before
    # the backend moved on) is not lost: 160 bytes = one echoed frame.
    barge_dropped = round((dropped_bytes(after_all) - dropped_bytes(before_all)) / 160)
    missing_echo = sum(c["lost_echo"] for c in confs)
    lists = {key: [v for c in confs for v in c[key]]
             for key in ("rtt", "first_audio", "barge", "silent")}
    return {
        "agent": server.agent, "workers": server.workers, "n": n,
        "legs_expected": n * len(legs), "connected": connected,
        "rtt_p50": pct(lists["rtt"], 0.5), "rtt_p99": pct(lists["rtt"], 0.99),
        "first_audio_p50": pct(lists["first_audio"], 0.5),
        "first_audio_p95": pct(lists["first_audio"], 0.95),
        "first_audio_n": len(lists["first_audio"]),
        "onset_clear_p50": pct(lists["barge"], 0.5), "onset_clear_p95": pct(lists["barge"], 0.95),
        "decision_clear_p50": hist_quantile(barge0, barge1, 0.5),
        "decision_clear_p95": hist_quantile(barge0, barge1, 0.95),
        "clear_silent_p50": pct(lists["silent"], 0.5),
        "clear_silent_p95": pct(lists["silent"], 0.95), "barge_n": len(lists["barge"]),
        "no_answer": sum(c["no_answer"] for c in confs),
        "loop_stall_p99": hist_quantile(stall0, stall1, 0.99),
        "loop_stall_max": hist_quantile(stall0, stall1, 1.0),
        "backlog_frames_max": watch.max_frames, "pool_pending_max": watch.max_pending,
        # Skipped in the CPU pool, or before it by the shared transcriber's decoder queue.
        "stt_skipped": sum(total(m1, "forkline_cpu_pool_skipped_total", kind=kind)
                           - total(m0, "forkline_cpu_pool_skipped_total", kind=kind)
                           for kind in STT_KINDS)
                       + total(m1, "forkline_transcript_skipped_utterances_total")
                       - total(m0, "forkline_transcript_skipped_utterances_total"),
        "server_cpu": 100.0 * (cpu1 - cpu0) / elapsed,
        "machine_cpu": _procstat.machine_percent(s0, s1),
        "server_wait": _procstat.wait_percent(s0, s1, pids1),
        "rss_mb": rss_workers / 2**20, "pool_rss_mb": rss_pool / 2**20,
        "kb_per_conf": (rss_workers - server.rss_base) / 1024 / max(n, 1),
        "lost": max(0, server_lost) + max(0, missing_echo - barge_dropped),
        "lost_server": server_lost, "missing_echo": missing_echo, "barge_dropped": barge_dropped,
        "lost_ids": [(i, c.get("lost_ids")) for i, c in enumerate(confs) if c.get("lost_ids")][:5],
        "late": sum(c["late"] for c in confs), "settle_s": busy,
        "workers_seen": min(len(m0), len(m1), len(after_all)), "spread": spread,
        "loadavg": os.getloadavg()[0],
        "errors": [e for c in confs for e in c["errors"]][:5],
    }


def rss_now(server: ConferenceServer) -> int:
    """RSS of the gunicorn master and workers (not the pool processes)."""
    return sum(_procstat.rss_bytes(p) for p in [server.proc.pid, *server.workers_pids()])


def workdir_for(base: Path, name: str) -> Path:
    """A fresh subdirectory for one server."""
    path = base / name
    path.mkdir(parents=True, exist_ok=True)
    return path
