"""Fork streams per core: N one-way human forks against one pinned worker, vs a bare sink.

Each fork is what Twilio's `<Stream>` of a human leg sends (bench/_forkstep.py): the customer
and agent of N/2 conferences taking turns with real espeak-ng speech and silence. Targets, all
pinned to the same core (`--pin 0:1`: server on CPU 0, generators on CPU 1) and stepped in turn
so they see the same machine load: `bare` (bench/bare_relay.py --sink: parses and decodes each
frame, the baseline), `forkline` (the Procfile's gunicorn, one worker, transcripts on as the
Procfile ships) and `forkline-notx` (TRANSCRIPTS_ENABLED=0). Capacity = the largest N with every
fork connected, no frame lost (server-counted) and loop stall p99 <= 40 ms (bucket bound);
utterances whose transcription the CPU pool skipped for back-pressure are allowed and reported.

  .venv/bin/python -m bench.fork_bench                       # the full search
  .venv/bin/python -m bench.fork_bench --steps 20,50 --duration 4 --json out.json
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from bench._confserver import ConferenceServer
from bench._confstep import settle, workdir_for
from bench._forkstep import BareForkSink, judge, measure, rss

TARGETS = {"bare": {}, "forkline": {}, "forkline-notx": {"TRANSCRIPTS_ENABLED": "0"}}
COLUMNS = [("target", "target", "{}"), ("forks", "forks", "{:d}"), ("connected", "conn", "{:d}"),
           ("lost", "lost", "{:d}"), ("loop_stall_p99", "stall99", "{:.3f}"),
           ("loop_stall_max", "stallmax", "{:.3f}"), ("stt_done", "utt done", "{:.0f}"),
           ("stt_skipped", "utt skip", "{:.0f}"), ("backlog_frames_max", "backlog", "{:.0f}"),
           ("server_cpu", "srvCPU%", "{:.0f}"), ("server_wait", "srvWt%", "{:.0f}"),
           ("us_per_frame", "µs/frame", "{:.0f}"), ("kb_per_fork", "KB/fork", "{:.0f}"),
           ("loadavg", "load", "{:.1f}"), ("passed", "ok", "{}")]


def fmt(row: dict) -> str:
    """One Markdown table line."""
    cells = []
    for key, _, spec in COLUMNS:
        value = row.get(key)
        cells.append("-" if value is None else ("yes" if value else "NO")
                     if isinstance(value, bool) else spec.format(value))
    return "| " + " | ".join(cells) + " |"


def header() -> str:
    """Markdown table header."""
    return ("| " + " | ".join(t for _, t, _ in COLUMNS) + " |\n|" + "---|" * len(COLUMNS))


def start(name: str, base: Path, args):
    """Start one target pinned to --pin's server CPUs and warm it with one conference."""
    server: Any  # BareForkSink or ConferenceServer: the step code takes either
    if name == "bare":
        server = BareForkSink(workdir_for(base, name), cpu=args.server_cpu)
    else:
        server = ConferenceServer(workdir_for(base, name), workers=1, agent="echo",
                                  cpu=args.server_cpu, database_url=args.database_url,
                                  extra_env=TARGETS[name])
    try:
        if isinstance(server, ConferenceServer):
            server.start(max(args.step_list) // 2 + 10)
        else:
            server.start()
        server.rss_base = 0
        measure(server, 2, argparse.Namespace(**{**vars(args), "warmup": 0.5, "duration": 2.0}),
                name)
        settle(server)
        server.rss_base = rss(server)
    except BaseException:
        server.stop()
        raise
    return server


def attempt(server, name: str, n: int, args, rows: list) -> dict:
    """Run a step up to --attempts times until it passes (the box may be shared)."""
    for number in range(1, args.attempts + 1):
        settle(server)
        try:
            row = measure(server, n, args, name)
        except Exception as exc:  # noqa: BLE001 - a broken step is a failed row
            row = {"target": name, "forks": n, "errors": [f"{type(exc).__name__}: {exc}"[:300]]}
        row.update(attempt=number, passed=judge(row, args.p99_limit))
        print(fmt(row), flush=True)
        if row.get("errors"):
            print(f"    errors: {row['errors']}", flush=True)
        rows.append(row)
        if row["passed"]:
            break
    return row


def search(servers: dict, args) -> tuple[list[dict], dict[str, int]]:
    """Step N upward for every live target in turn; a target leaves at its first failure."""
    rows: list[dict] = []
    capacity = dict.fromkeys(servers, 0)
    alive = dict(servers)
    deadline = time.monotonic() + args.max_seconds
    for n in args.step_list:
        for name, server in list(alive.items()):
            if time.monotonic() > deadline:
                return rows, capacity
            if attempt(server, name, n, args, rows)["passed"]:
                capacity[name] = rows[-1]["forks"]
            else:
                del alive[name]
    return rows, capacity


def ratios(rows: list[dict], capacity: dict[str, int]) -> dict:
    """Capacity and server CPU per frame of each target over the bare sink's, same run."""
    out: dict = {}
    base = capacity.get("bare")
    for name, cap in capacity.items():
        out[name] = {"capacity": cap, "vs_bare": cap / base if base else None}
        mine = {r["forks"]: r for r in rows if r["target"] == name and r.get("us_per_frame")}
        bare = {r["forks"]: r for r in rows if r["target"] == "bare" and r.get("us_per_frame")}
        common = sorted(set(mine) & set(bare))
        if common:
            n = common[-1]
            out[name]["us_per_frame_at"] = n
            out[name]["cpu_per_frame_vs_bare"] = mine[n]["us_per_frame"] / bare[n]["us_per_frame"]
    return out


def parse(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--targets", default=",".join(TARGETS))
    p.add_argument("--steps", default="50,100,200,300,400,500,600,800,1000",
                   help="comma-separated fork counts (rounded up to even: whole conferences)")
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--duration", type=float, default=16.0, help="measured seconds per step")
    p.add_argument("--drain", type=float, default=1.5)
    p.add_argument("--confs-per-proc", type=int, default=60, help="conferences per generator")
    p.add_argument("--p99-limit", type=float, default=40.0, help="loop stall, ms")
    p.add_argument("--attempts", type=int, default=2, help="tries per step before it fails")
    p.add_argument("--pin", default="0:1", help="SERVER_CPUS:GENERATOR_CPUS for taskset")
    p.add_argument("--nice", type=int, default=0, help="e.g. -10 on a shared box")
    p.add_argument("--database-url", default="pg", help="pg (fresh database), sqlite or a URL")
    p.add_argument("--max-seconds", type=float, default=1800)
    p.add_argument("--json", help="write rows and capacities as JSON here")
    args = p.parse_args(argv)
    args.step_list = [int(s) for s in args.steps.split(",") if s]
    args.server_cpu, args.gen_cpu = (None, None) if args.pin == "off" else args.pin.split(":")
    return args


def main(argv: list[str] | None = None) -> int:
    """Start the targets, search, print rows and capacities (and JSON)."""
    from bench.conference_bench import stop_on_signals

    args = parse(argv)
    stop_on_signals()
    names = [n for n in args.targets.split(",") if n]
    meta: dict[str, Any] = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "loadavg_start": os.getloadavg(), "cpus": os.cpu_count(),
                            "argv": sys.argv[1:]}
    print(f"fork bench {meta['started']}, load average {meta['loadavg_start'][0]:.2f}, "
          f"pinned {args.pin}\n{header()}", flush=True)
    servers: dict = {}
    with tempfile.TemporaryDirectory(prefix="fork-bench-") as tmp:
        try:
            for name in names:
                servers[name] = start(name, Path(tmp), args)
            rows, capacity = search(servers, args)
        finally:
            for server in servers.values():
                with contextlib.suppress(Exception):
                    server.stop()
    meta["loadavg_end"] = os.getloadavg()
    summary = ratios(rows, capacity)
    for name, s in summary.items():
        s["capped"] = s["capacity"] >= max(args.step_list)  # the largest step passed: ">="
        vs = "" if s["vs_bare"] is None else f" ({s['vs_bare']:.2f}× bare)"
        cpu = s.get("cpu_per_frame_vs_bare")
        per = "" if cpu is None else f"; CPU per frame {cpu:.2f}× bare at {s['us_per_frame_at']}"
        print(f"capacity {name}: {'>= ' * s['capped']}{s['capacity']} forks per core{vs}{per}")
    if args.json:
        report = {"meta": meta, "rows": rows, "capacity": summary}
        Path(args.json).write_text(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
