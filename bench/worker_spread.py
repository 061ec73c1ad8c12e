"""How gunicorn spreads media sockets over two workers, with and without `reuse_port`.

Starts the Procfile's gunicorn with WEB_CONCURRENCY=2 (echo agent, transcripts on, Redis for the
cross-worker signals), connects a first wave of conferences and starts them talking, then
connects a second wave *while the first streams* (calls arrive at busy workers), and counts the
established sockets each worker holds (/proc/PID/fd against /proc/net/tcp). Then both waves
stream together for a measured step. Variants: gunicorn.conf.py with reuse_port off and on.

  .venv/bin/python -m bench.worker_spread [--first 30 --second 30] [--variants off,on] [--nice -10]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from bench._confserver import ConferenceServer, established
from bench._confstep import finish, go, measure, settle, spawn_gens, stop_gens, workdir_for


def wave_counts(server: ConferenceServer) -> list[int]:
    """Sockets per worker now, busiest first."""
    return sorted(established(server.workers_pids(), server.port).values(), reverse=True)


def run_variant(base: Path, reuse: bool, args) -> dict:
    """One server: the two waves' spreads, then a measured step of both waves together."""
    server = ConferenceServer(workdir_for(base, f"reuse-{reuse}"), workers=2, agent="echo",
                              redis_url=args.redis_url, reuse_port=reuse)
    server.start(args.first + args.second + 10)
    gens: list = []
    try:
        server.rss_base = 0
        settle(server)
        first = spawn_gens(server, args.first, args, duration=args.hold)
        gens += first
        connected = sum(int(gen.stdout.readline().split()[1]) for gen in first)
        idle_spread = wave_counts(server) + [connected]
        go(first)
        time.sleep(2.0)  # let the first wave reach steady streaming before the next calls
        second = spawn_gens(server, args.second, args, first=args.first, duration=5.0)
        gens += second
        connected += sum(int(gen.stdout.readline().split()[1]) for gen in second)
        busy_spread = wave_counts(server) + [connected]
        go(second)
        results = finish(second, 120) + finish(first, 120)
        errors = [e for c in results for e in c["errors"]]
        out = {"reuse_port": reuse, "first_wave": idle_spread, "both_waves": busy_spread,
               "errors": len(errors), "error_sample": errors[:3]}
        if args.measure:
            settle(server)
            row = measure(server, args.first + args.second, args)
            out["step"] = {k: row[k] for k in ("n", "rtt_p50", "rtt_p99", "lost", "server_cpu",
                                               "loop_stall_max", "spread", "loadavg")}
        return out
    finally:
        stop_gens(gens)
        server.stop()


def main(argv: list[str] | None = None) -> int:
    """Run each variant and print the spreads."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--first", type=int, default=30, help="conferences connected first")
    p.add_argument("--second", type=int, default=30, help="conferences connected while busy")
    p.add_argument("--hold", type=float, default=20.0, help="seconds the first wave streams")
    p.add_argument("--variants", default="off,on")
    p.add_argument("--warmup", type=float, default=1.0)
    p.add_argument("--duration", type=float, default=8.0)
    p.add_argument("--drain", type=float, default=1.0)
    p.add_argument("--confs-per-proc", type=int, default=30)
    p.add_argument("--nice", type=int, default=0)
    p.add_argument("--connect-concurrency", type=int, default=16, help="per generator process")
    p.add_argument("--measure", action="store_true", help="then stream both waves, measured")
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = p.parse_args(argv)
    args.gen_cpu = None
    with tempfile.TemporaryDirectory(prefix="worker-spread-") as tmp:
        for variant in args.variants.split(","):
            r = run_variant(Path(tmp), variant == "on", args)
            print(f"reuse_port={variant}: sockets per worker (last: legs connected) after wave 1 "
                  f"{'/'.join(map(str, r['first_wave']))}, after wave 2 (connected while "
                  f"busy) {'/'.join(map(str, r['both_waves']))}; leg errors {r['errors']} "
                  f"{r['error_sample']}", flush=True)
            if "step" in r:
                s = r["step"]
                print(f"    step N={s['n']}: rtt p50/p99 {s['rtt_p50']}/{s['rtt_p99']} ms, "
                      f"lost {s['lost']}, server CPU {s['server_cpu']:.0f}%, stall max "
                      f"{s['loop_stall_max']}, load {s['loadavg']:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
