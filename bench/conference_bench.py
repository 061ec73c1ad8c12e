"""Whole-conference benchmark: how many talking conferences one Forkline box holds.

Each conference is three Twilio Media Streams driven as Twilio would (bench/_confclients.py):
the customer's and the human agent's forks (one-way, transcribed: TRANSCRIPTS_ENABLED=1) and the
AI leg (bidirectional) on the `echo` or `local` agent; they alternate real espeak-ng speech
(the customer asks, the AI answers, the agent talks over the answer: a barge-in); one
conference in four belongs to a tenant with recording on. Per step N: AI-leg frame round trip
(echo), first audio, barge-in reaction, loop stall, fork backlog, CPU, RSS and lost frames.

Capacity = the largest N with frame p99 < 40 ms (echo; loop-stall p99 < 40 ms for local, whose
legs echo nothing), no frame lost, barge-in p95 (decision -> clear sent + clear -> caller
silent) < 150 ms and first-audio p95 within 20% (at least one 20 ms frame) of the idle N=1 step.

  .venv/bin/python -m bench.conference_bench                       # pinned + box, echo + local
  .venv/bin/python -m bench.conference_bench --modes pinned --agents echo --steps 5,10,20
  .venv/bin/python -m bench.conference_bench --memory 100          # KB per AI stream / per fork
"""
from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

import orjson

from bench._confserver import ConferenceServer
from bench._confstep import measure, rss_now, settle, workdir_for

MODES = {  # name -> (gunicorn workers, server cpus, generator cpus)
    "pinned": (1, "0", "1"),
    "box": (2, None, None),
}
COLUMNS = [("n", "N", "{:d}"), ("rtt_p50", "rtt50", "{:.1f}"), ("rtt_p99", "rtt99", "{:.1f}"),
           ("first_audio_p50", "fa50", "{:.0f}"), ("first_audio_p95", "fa95", "{:.0f}"),
           ("decision_clear_p95", "dec>clr95", "{:.3f}"), ("clear_silent_p95", "clr>sil95",
                                                            "{:.0f}"),
           ("onset_clear_p95", "ons>clr95", "{:.0f}"), ("loop_stall_p99", "stall99", "{:.3f}"),
           ("loop_stall_max", "stallmax", "{:.3f}"), ("backlog_frames_max", "backlog", "{:.0f}"),
           ("stt_skipped", "skip", "{:.0f}"), ("server_cpu", "srvCPU%", "{:.0f}"),
           ("server_wait", "srvWt%", "{:.0f}"), ("rss_mb", "RSSMB", "{:.0f}"),
           ("kb_per_conf", "KB/conf", "{:.0f}"),
           ("lost", "lost", "{:d}"), ("barge_dropped", "bargeDrop", "{:d}"),
           ("spread", "sockets/worker", "{}"),
           ("loadavg", "load", "{:.1f}"), ("passed", "ok", "{}")]


def fmt(row: dict) -> str:
    """One table line."""
    cells = []
    for key, _, spec in COLUMNS:
        value = row.get(key)
        if isinstance(value, list):
            value = "/".join(str(v) for v in value)
        cells.append("-" if value is None else spec.format(value) if not isinstance(value, bool)
                     else ("yes" if value else "NO"))
    return "| " + " | ".join(cells) + " |"


def header() -> str:
    """Table header (Markdown)."""
    names = [title for _, title, _ in COLUMNS]
    return "| " + " | ".join(names) + " |\n|" + "---|" * len(names)


def judge(row: dict, idle: dict | None, args) -> bool:
    """The capacity criteria for one step (see the module docstring)."""
    ok = row["connected"] == row["legs_expected"] and row["lost"] == 0 and not row["errors"]
    if row["agent"] == "echo":
        ok = ok and row["rtt_p99"] is not None and row["rtt_p99"] < args.p99_limit
    else:
        # Bucket upper bounds: a p99 in the (20, 40] ms bucket reads 0.04 and passes.
        ok = ok and (row["loop_stall_p99"] or 0) <= args.p99_limit / 1000
    barge = (row["decision_clear_p95"] or 0) * 1000 + (row["clear_silent_p95"] or 0)
    ok = ok and row["barge_n"] > 0 and barge < args.barge_limit
    if idle is not None and idle.get("first_audio_p95") is not None:
        limit = max(idle["first_audio_p95"] * 1.2, idle["first_audio_p95"] + 20.0)
        ok = ok and row["first_audio_p95"] is not None and row["first_audio_p95"] <= limit
    return bool(ok)


def step(server: ConferenceServer, n: int, args, idle: dict | None, rows: list,
         duration: float | None = None) -> dict:
    """Measure, judge, print and keep one step (retried once when it fails)."""
    for attempt in (1, 2):
        run_args = argparse.Namespace(**{**vars(args), "duration": duration or args.duration})
        settle(server)
        began = time.time()
        try:
            row = measure(server, n, run_args)
        except Exception as exc:  # noqa: BLE001 - a broken step is a failed row
            row = {"agent": server.agent, "workers": server.workers, "n": n, "connected": 0,
                   "legs_expected": 3 * n, "lost": 0, "errors": [f"{type(exc).__name__}: {exc}"]}
        row.update(mode=args.mode_name, attempt=attempt, passed=False, window=(began, time.time()))
        row["passed"] = "rtt_p99" in row and judge(row, idle, args)
        print(fmt(row), flush=True)
        if row.get("errors"):
            print(f"    errors: {row['errors']}", flush=True)
        rows.append(row)
        if row["passed"] or n == 1:
            return row
    return row


def start_server(base: Path, mode: str, agent: str, args) -> ConferenceServer:
    """Start the product for one mode/agent and warm it with one short conference."""
    workers, cpu, _ = MODES[mode]
    extra = {"CPU_POOL_WORKERS": str(args.cpu_pool_workers)} if args.cpu_pool_workers else {}
    if args.cpu_wait:  # bench/_cpuwait_conf.py: the hub's lateness split into ran / waited
        extra.update(GUNICORN_CMD_ARGS=f"--config {Path(__file__).with_name('_cpuwait_conf.py')}",
                     BENCH_CPUWAIT_DIR=str(workdir_for(base, f"cpuwait-{mode}-{agent}")))
    server = ConferenceServer(workdir_for(base, f"{mode}-{agent}"), workers=workers, agent=agent,
                              cpu=cpu, database_url=args.database_url,
                              redis_url=args.redis_url, extra_env=extra,
                              reuse_port={"on": True, "off": False}.get(args.reuse_port))
    server.start(max(max(args.step_list), args.memory, 1) + 10)
    server.rss_base = 0
    measure(server, 1, argparse.Namespace(**{**vars(args), "warmup": 0.5, "duration": 3.0}))
    settle(server)
    server.rss_base = rss_now(server)
    return server


def search(server: ConferenceServer, args, rows: list) -> dict:
    """Idle step, then N upward until a step fails; then the 70% step. Returns the summary."""
    idle = step(server, 1, args, None, rows, duration=args.idle_duration)
    capacity = 1 if idle["passed"] else 0
    deadline = time.monotonic() + args.max_seconds
    for n in args.step_list:
        if n <= 1 or time.monotonic() > deadline:
            continue
        if not step(server, n, args, idle, rows)["passed"]:
            break
        capacity = n
    at70 = None
    if capacity > 1:
        n70 = max(1, round(capacity * 0.7))
        at70 = next((r for r in rows if r["n"] == n70 and r.get("passed")
                     and r["agent"] == server.agent and r["mode"] == args.mode_name), None)
        at70 = at70 or step(server, n70, args, idle, rows)
    return {"mode": args.mode_name, "agent": server.agent, "capacity": capacity,
            "idle": idle, "at70": at70,
            "at_capacity": next((r for r in reversed(rows) if r["n"] == capacity
                                 and r.get("passed") and r["mode"] == args.mode_name
                                 and r["agent"] == server.agent), None)}


def memory(base: Path, mode: str, args) -> dict:
    """KB of RSS per AI stream (echo, replay rings full) and per fork (transcribed)."""
    out = {}
    for kind, legs in (("fork", ("customer", "agent")), ("ai", ("ai",))):
        server = start_server(base, mode, "echo", args)
        try:
            before = rss_now(server)
            run = argparse.Namespace(**{**vars(args), "duration": args.memory_seconds})
            row = measure(server, args.memory, run, legs=legs)
            grown = row["rss_mb"] * 2**20 - before
            out[kind] = {"streams": args.memory * len(legs),
                         "kb_per_stream": grown / 1024 / (args.memory * len(legs)),
                         "pool_rss_mb": row["pool_rss_mb"], "lost": row["lost"],
                         "loadavg": row["loadavg"]}
            print(f"[{mode}] memory {kind}: {out[kind]}", flush=True)
        finally:
            server.stop()
    return out


def cpu_wait(directory: Path, rows: list, agent: str) -> None:
    """Per step: hub lateness episodes (> 8 ms), the worst, and how much was CPU wait."""
    from bench._cpuwait_conf import summary

    for row in rows:
        if row["agent"] == agent and "window" in row and "cpu_wait" not in row:
            row["cpu_wait"] = summary(directory, *row["window"])
            print(f"    cpu-wait N={row['n']}: {row['cpu_wait']}", flush=True)


def stop_on_signals() -> None:
    """SIGTERM / SIGINT end the run through the finally blocks, so no server outlives it (a
    background job starts with SIGINT ignored: restore it)."""
    def end(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, end)
    signal.signal(signal.SIGINT, end)


def parse(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--modes", default="pinned,box", help="pinned (1 worker, taskset) and/or box")
    p.add_argument("--agents", default="echo,local")
    p.add_argument("--steps", default="2,5,10,15,20,30,40,50,60,80")
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--duration", type=float, default=16.0, help="measured seconds per step")
    p.add_argument("--idle-duration", type=float, default=40.0, help="measured s of N=1")
    p.add_argument("--drain", type=float, default=1.5)
    p.add_argument("--confs-per-proc", type=int, default=30)
    p.add_argument("--p99-limit", type=float, default=40.0)
    p.add_argument("--barge-limit", type=float, default=150.0)
    p.add_argument("--memory", type=int, default=0, help="conferences for the KB/stream runs")
    p.add_argument("--memory-seconds", type=float, default=14.0, help="> 12 s: rings full")
    p.add_argument("--cpu-pool-workers", type=int, default=0)
    p.add_argument("--cpu-wait", action="store_true",
                   help="instrument the worker (bench/_cpuwait_conf.py): is a late hub running "
                        "code or waiting for its core?")
    p.add_argument("--nice", type=int, default=0,
                   help="run server and generators at this nice (and autogroup nice): -10 on a "
                        "box shared with other work")
    p.add_argument("--reuse-port", choices=("shipped", "on", "off"), default="shipped",
                   help="gunicorn reuse_port: as gunicorn.conf.py says, or overridden")
    p.add_argument("--database-url", default="pg",
                   help="pg: a fresh PostgreSQL database on 127.0.0.1:5432 (default); sqlite: a "
                        "temp file (one worker only: SQLite's busy wait blocks the hub); or a URL")
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/0", help="with 2 workers")
    p.add_argument("--max-seconds", type=float, default=900)
    p.add_argument("--json", help="write rows and summaries as JSON here")
    args = p.parse_args(argv)
    args.step_list = [int(s) for s in args.steps.split(",") if s]
    return args


def main(argv: list[str] | None = None) -> int:
    """Run every mode x agent; print rows and capacities."""
    args = parse(argv)
    stop_on_signals()
    meta = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "loadavg_start": os.getloadavg(), "cpus": os.cpu_count(), "argv": sys.argv[1:]}
    rows: list[dict] = []
    summaries, mem = [], {}
    print(f"conference bench {meta['started']}, load average {meta['loadavg_start'][0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="conf-bench-") as tmp:
        for mode in [m for m in args.modes.split(",") if m]:
            args.mode_name = mode
            args.gen_cpu = MODES[mode][2]
            if args.memory:
                mem[mode] = memory(Path(tmp), mode, args)
            for agent in [a for a in args.agents.split(",") if a]:
                print(f"\n[{mode}: {MODES[mode][0]} worker(s), agent {agent}]\n{header()}",
                      flush=True)
                server = start_server(Path(tmp), mode, agent, args)
                try:
                    summaries.append(search(server, args, rows))
                finally:
                    with contextlib.suppress(Exception):
                        server.stop()
                if args.cpu_wait:
                    cpu_wait(Path(server.extra_env["BENCH_CPUWAIT_DIR"]), rows, server.agent)
    meta["loadavg_end"] = os.getloadavg()
    print(f"\nload average at end {meta['loadavg_end'][0]:.2f}")
    for s in summaries:
        cap = s["at_capacity"] or {}
        print(f"capacity [{s['mode']}, {s['agent']}]: {s['capacity']} conferences; "
              f"loop stall p99/max at capacity {cap.get('loop_stall_p99')}/"
              f"{cap.get('loop_stall_max')} s")
    if args.json:
        report = {"meta": meta, "rows": rows, "summaries": summaries, "memory": mem}
        Path(args.json).write_text(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
