"""Soak: N talking conferences for M minutes; RSS, descriptors, threads, stalls, lost frames.

The conferences of bench/conference_bench.py (two transcribed forks + an echo AI leg, espeak
speech, barge-ins, one in four recorded) run without a break against the Procfile's gunicorn.
Every interval it samples the server: RSS of the master and workers (and the CPU pool's
processes), open descriptors, threads alive (greenlet-backed under gevent, from
forkline_threads_active), open media sockets, the worst loop stall of the interval, and echo
frames still missing a second after they were sent. It prints the table, checks the issue's
targets (RSS growth < 5% after the first interval, no descriptor or thread growth, no lost
frame, loop-stall max of the last interval no worse than the first) and plots RSS per interval.

  .venv/bin/python -m bench.soak --conferences 100 --minutes 10 --png docs/soak_rss.png
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import orjson

from bench import _loopstall, _procstat
from bench._confserver import ConferenceServer, buckets, fd_count, scrape_workers, total
from bench._confstep import (
    dropped_bytes,
    frames_in,
    go,
    hist_quantile,
    settle,
    spawn_gens,
    stop_gens,
    wait_closed,
)
from bench.conference_bench import MODES, stop_on_signals

TAIL_S = 5.0
DRAIN_S = 3.0


class Ticks:
    """Reads each generator's TICK lines in a thread; stops at its DONE line."""

    def __init__(self, gens: list) -> None:
        self.latest: dict[int, dict] = {}
        self.done = [threading.Event() for _ in gens]
        for i, gen in enumerate(gens):
            threading.Thread(target=self._read, args=(i, gen), daemon=True).start()

    def _read(self, i: int, gen) -> None:
        for line in gen.stdout:
            if line.startswith("TICK "):
                self.latest[i] = orjson.loads(line[5:])
            elif line.startswith("DONE"):
                break
        self.done[i].set()

    def lost(self) -> int:
        """Echo frames missing a second after sending, so far, over all generators."""
        return sum(t.get("lost_echo", 0) for t in self.latest.values())


def sample(server: ConferenceServer, prev_stall: dict, ticks: Ticks, t0: float) -> dict:
    """One row of the table."""
    workers = server.workers_pids()
    seen = scrape_workers(server.port, server.workers)
    stall = buckets(seen, _loopstall.NAME)
    rss = sum(_procstat.rss_bytes(p) for p in [server.proc.pid, *workers])
    return {"minute": round((time.monotonic() - t0) / 60, 2),
            "rss_mb": rss / 2**20,
            "pool_rss_mb": sum(_procstat.rss_bytes(p) for p in server.pids()) / 2**20
            - rss / 2**20,
            "fds": sum(fd_count(p) for p in workers),
            "threads": total(seen, "forkline_threads_active"),
            "sockets": total(seen, "forkline_media_streams_open", kind="fork")
            + total(seen, "forkline_media_streams_open", kind="ai"),
            "stall_max": hist_quantile(prev_stall, stall, 1.0),
            "lost_echo": ticks.lost(), "loadavg": os.getloadavg()[0],
            "workers_seen": len(seen), "_stall": stall}


def verdict(rows: list[dict], lost: int) -> dict:
    """The issue's soak targets, from the table."""
    first, last = rows[0], rows[-1]
    growth = (last["rss_mb"] - first["rss_mb"]) / first["rss_mb"] * 100
    return {"rss_growth_pct": round(growth, 2), "rss_ok": growth < 5.0,
            "fds_first_last": (first["fds"], last["fds"]),
            "threads_first_last": (first["threads"], last["threads"]),
            "leak_free": last["fds"] <= first["fds"] and last["threads"] <= first["threads"],
            "lost": lost, "stall_first_last": (first["stall_max"], last["stall_max"]),
            "stall_ok": (last["stall_max"] or 0) <= (first["stall_max"] or 0)}


def plot(rows: list[dict], path: str, title: str) -> None:
    """RSS per interval (and the pool's), loop-stall max below; a PNG at `path`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    minutes = [r["minute"] for r in rows]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 5.5), sharex=True,
                                      gridspec_kw={"height_ratios": [3, 1.3]})
    top.plot(minutes, [r["rss_mb"] for r in rows], "o-", label="gunicorn master + workers")
    top.plot(minutes, [r["pool_rss_mb"] for r in rows], "s--", label="CPU pool processes")
    top.set_ylabel("RSS (MB)")
    top.set_ylim(bottom=0)
    top.legend(loc="lower right")
    top.grid(alpha=0.3)
    top.set_title(title, fontsize=9)
    bottom.plot(minutes, [(r["stall_max"] or 0) * 1000 for r in rows], "o-", color="tab:red")
    bottom.set_ylabel("loop stall max (ms)")
    bottom.set_xlabel("minute")
    bottom.grid(alpha=0.3)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run(args) -> dict:
    """Start the server, run the soak, return rows and the verdict."""
    workers, cpu, gen_cpu = MODES[args.mode]
    # The generators stream TAIL_S past the last sample and drain longer than a step does, so
    # the minute-M sample is taken while every call still streams and the generators' own
    # end-of-run summarising (CPU on the server's cores in box mode) lands after it.
    args.gen_cpu, args.warmup, args.drain = gen_cpu, 0.0, DRAIN_S
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        server = ConferenceServer(Path(tmp), workers=workers, agent="echo", cpu=cpu,
                                  database_url=args.database_url, redis_url=args.redis_url)
        server.start(args.conferences + 10)
        gens: list = []
        try:
            before = wait_closed(server)
            seconds = args.minutes * 60
            gens += spawn_gens(server, args.conferences, args, duration=seconds + TAIL_S,
                               report_every=args.interval)
            connected = sum(int(g.stdout.readline().split()[1]) for g in gens)
            if args.nice:
                from bench.media_bench import set_nice

                set_nice(server.pids() + [g.pid for g in gens], args.nice)
            settle(server)
            ticks = Ticks(gens)
            start, t0 = go(gens), time.monotonic()
            time.sleep(max(0.0, start - time.time()))
            rows, stall = [], buckets(scrape_workers(server.port, server.workers),
                                      _loopstall.NAME)
            for k in range(1, int(seconds // args.interval) + 1):
                time.sleep(max(0.0, t0 + k * args.interval + 0.5 - time.monotonic()))
                row = sample(server, stall, ticks, t0)
                stall = row.pop("_stall")
                rows.append(row)
                print(format_row(row), flush=True)
            for event in ticks.done:
                event.wait(timeout=120)
            for gen in gens:  # DONE was consumed by the tick readers: hang up
                gen.stdin.write("BYE\n")
                gen.stdin.flush()
            confs = [c for gen in gens
                     for c in orjson.loads(gen.communicate(timeout=120)[0].splitlines()[-1])
                     ["conferences"]]
            after = wait_closed(server)
            sent = sum(c["sent"] for c in confs)
            dropped = round((dropped_bytes(after) - dropped_bytes(before)) / 160)  # by design
            lost = max(0, int(sent - (frames_in(after) - frames_in(before)))) + max(
                0, sum(c["lost_echo"] for c in confs) - dropped)
        finally:
            stop_gens(gens)
            server.stop()
    return {"rows": rows, "verdict": verdict(rows, lost) if rows else {}, "connected": connected,
            "legs": 3 * args.conferences}


def format_row(r: dict) -> str:
    """One Markdown table line."""
    stall = "-" if r["stall_max"] is None else f"{r['stall_max'] * 1000:.0f}"
    return (f"| {r['minute']:.1f} | {r['rss_mb']:.1f} | {r['pool_rss_mb']:.1f} | {r['fds']} | "
            f"{r['threads']:.0f} | {r['sockets']:.0f} | {stall} | {r['lost_echo']} | "
            f"{r['loadavg']:.1f} |")


def main(argv: list[str] | None = None) -> int:
    """Parse options, soak, print the table and verdict, plot."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--conferences", type=int, default=100)
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--interval", type=float, default=60.0, help="seconds between samples")
    p.add_argument("--mode", choices=sorted(MODES), default="box")
    p.add_argument("--confs-per-proc", type=int, default=30)
    p.add_argument("--nice", type=int, default=0)
    p.add_argument("--database-url", default="pg")
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    p.add_argument("--png", help="write the RSS plot here (e.g. docs/soak_rss.png)")
    p.add_argument("--json", help="write rows and verdict here")
    args = p.parse_args(argv)
    stop_on_signals()
    began = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    load0 = os.getloadavg()[0]
    print(f"soak {began}: {args.conferences} conferences ({3 * args.conferences} legs), "
          f"{args.minutes} min, mode {args.mode}, load average {load0:.2f}")
    print("| minute | RSS MB | pool RSS MB | fds | threads | sockets | stall max ms | lost | "
          "load |\n|---|---|---|---|---|---|---|---|---|", flush=True)
    result = run(args)
    print(f"legs connected {result['connected']}/{result['legs']}; verdict {result['verdict']}")
    if args.png and result["rows"]:
        plot(result["rows"], args.png, f"Forkline soak {began}: {args.conferences} conferences, "
             f"mode {args.mode}, load average {load0:.1f}-{os.getloadavg()[0]:.1f} (shared box)")
    if args.json:
        Path(args.json).write_text(orjson.dumps({"began": began, **result},
                                                option=orjson.OPT_INDENT_2).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
