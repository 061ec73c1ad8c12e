"""The worker's event-loop stall while issue 10's floods run, before and after the fixes.

  .venv/bin/python -m bench.flood_stall --nice -10     # before (654c8a4) and after (this tree)
  .venv/bin/python -m bench.flood_stall --versions after --sizes 0.2 --fragments 2000 \
      --sockets 20 --hold 1                            # a quick look

Each version runs the Procfile's `web:` line (one gevent worker, `release:` migration on a temp
SQLite DB) pinned to --server-cpu with taskset, with bench/_stall_conf.py adding the same hub
probe to every version; the attacker (this process) is pinned to --attacker-cpu. Floods, one
server per group so a hung worker never spills into the next group:
- body: POST /twilio/conference-events with N MB of form fields, no signature / a bogus one;
- fragments: a signed socket opens a binary message and sends empty continuation frames;
- idle: signed sockets that never send `start`, held for --hold s.
Per flood: the server's answer, the worst hub stall (100 ms windows from the worker, and how
long the hub was silent when a flood had to be abandoned), /healthz latency probed from the
attacker side every 50 ms, and forkline_loop_stall_seconds from /metrics where the code has it.
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from bench import _floods, _loopstall
from bench._report import percentile
from bench._targets import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    ROOT,
    SECRET,
    Target,
    _tail,
    _wait_listening,
    free_port,
    procfile_command,
)
from bench.media_bench import set_nice

BEFORE = "654c8a4"  # the commit before a695a98 / 089e9ad / 5467f69 (body caps, fragments, start)


@contextlib.contextmanager
def checkout(rev: str) -> Iterator[Path]:
    """A temporary git worktree of `rev` (removed afterwards); this tree for 'after'."""
    if rev == "after":
        yield ROOT
        return
    path = Path(tempfile.mkdtemp(prefix="flood-before-")) / "tree"
    subprocess.run(["git", "worktree", "add", "--detach", str(path), rev], cwd=ROOT,
                   check=True, capture_output=True)
    try:
        yield path
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=ROOT,
                       capture_output=True)
        shutil.rmtree(path.parent, ignore_errors=True)


class FloodServer(Target):
    """The Procfile's gunicorn of one checkout, pinned, with the bench's stall probe."""

    name = "forkline"

    def __init__(self, tree: Path, workdir: Path, stall_addr: str, cpu: int) -> None:
        super().__init__(workdir)
        self.tree, self.stall_addr, self.cpu = tree, stall_addr, cpu

    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items()
               if k not in ("DATABASE_URL", "REDIS_URL", "OPENAI_API_KEY", "METRICS_TOKEN")}
        env.update(PORT=str(self.port), WEB_CONCURRENCY="1", AI_BACKEND="echo",
                   DATABASE_URL=f"sqlite:///{self.workdir / 'flood.sqlite'}",
                   PUBLIC_URL=f"http://127.0.0.1:{self.port}", TWILIO_AUTH_TOKEN=AUTH_TOKEN,
                   TWILIO_ACCOUNT_SID=ACCOUNT_SID, FORKLINE_SECRET_KEY=SECRET,
                   BENCH_STALL_ADDR=self.stall_addr)
        return env

    def start(self) -> None:
        self.port = free_port()
        env = self.env()
        subprocess.run([sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"],
                       cwd=self.tree, env=env, check=True, capture_output=True)
        argv = procfile_command("app:create_app()", self.port, 1)
        argv[1:1] = ["--config", str(ROOT / "bench" / "_stall_conf.py")]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                ["taskset", "-c", str(self.cpu), *argv], cwd=self.tree, env=env,
                start_new_session=True, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT)
        _wait_listening(self.port, self.proc, self.log)
        probe = _floods.HealthProbe(self.port, timeout_s=2.0)
        deadline = time.monotonic() + 60
        while probe.once() is None:  # the worker is up once /healthz answers
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"/healthz never answered:\n{_tail(self.log)}")


def run_flood(server: FloodServer, listener: _floods.StallListener, version: str, name: str,
              flood: Callable[[], dict], args) -> dict:
    """Run one flood with the probes on; the row for the table."""
    metrics_before = _loopstall.snapshot(server.port)
    probe = _floods.HealthProbe(server.port, timeout_s=args.window)
    probe.start()
    began = time.time()
    try:
        result = flood()
    except OSError as exc:
        result = {"answer": f"{type(exc).__name__}: {exc}"[:60], "answer_s": None}
    flooded = time.time()
    # Recovered = a /healthz probe sent after the flood ended answered; abandoned after --window.
    while time.time() < flooded + args.window and not any(
            at >= flooded and lat is not None for at, lat in probe.samples):
        time.sleep(0.05)  # the probe thread's samples: polled, no event to wait on
    ended = time.time()
    probe.stop()
    recovered = any(at >= flooded and lat is not None for at, lat in probe.samples)
    stalls = listener.between(began, ended + 0.3)
    heard = [at for at, _ in listener.samples if began <= at <= ended + 0.3]
    silent = ended - max(heard, default=began)  # the hub never ran again before we gave up
    during = [lat for at, lat in probe.samples if began <= at <= ended]
    answered = [lat for lat in during if lat is not None]
    ls = _loopstall.step(metrics_before, _loopstall.snapshot(server.port))
    stall_max = max(max(stalls, default=0.0), 0.0 if recovered else silent)
    return {
        "version": version, "flood": name, "answer": result["answer"],
        "answer_s": result.get("answer_s"), "recovered": recovered,
        "stall_max_ms": round(stall_max * 1000, 1), "stall_at_least": not recovered,
        "stall_p99_ms": round((percentile(stalls, 99) or 0.0) * 1000, 1),
        "healthz_probes": len(during), "healthz_failed": len(during) - len(answered),
        "healthz_p50_ms": round((percentile(answered, 50) or 0.0) * 1000, 1),
        "healthz_max_ms": round(max(answered, default=0.0) * 1000, 1),
        "metric_stall_max_s": ls["loop_stall_max_s"],
    }


def groups(args) -> list[tuple[str, list[tuple[str, Callable[[int], dict]]]]]:
    """Flood groups (one fresh server each): name, [(flood name, flood(port))]."""
    # The same server with no flood, first in every group: the box's own noise, same run.
    quiet = ("no flood (baseline)", lambda port: _floods.quiet(args.baseline))
    body = [(f"body {mb:g} MB, {sig} signature",
             lambda port, mb=mb, sig=sig: _floods.body_flood(
                 port, mb, None if sig == "no" else "bogus0000signature=", args.window))
            for sig in args.signatures.split(",") for mb in args.sizes]
    frag = [(f"{args.fragments:,} empty fragments",
             lambda port: _floods.fragment_flood(port, AUTH_TOKEN, args.fragments, args.window))]
    idle = [(f"{args.sockets:,} idle sockets, {args.hold:g} s",
             lambda port: _floods.idle_sockets(port, AUTH_TOKEN, args.sockets, args.hold))]
    return [("body", [quiet, *body]), ("fragments", [quiet, *frag]), ("idle", [quiet, *idle])]


def run_version(version: str, rev: str, args, listener) -> list[dict]:
    """Every flood group against one checkout."""
    rows = []
    with checkout(rev) as tree, tempfile.TemporaryDirectory(prefix="flood-") as tmp:
        for _group, floods in groups(args):
            server = FloodServer(tree, Path(tmp), listener.addr, args.server_cpu)
            try:
                server.start()
                if args.nice:
                    set_nice([*server.pids(), os.getpid()], args.nice)
                for name, flood in floods:
                    row = run_flood(server, listener, version, name,
                                    functools.partial(flood, server.port), args)
                    print_row(row)
                    rows.append(row)
                    if not row["recovered"]:
                        break  # a hung worker: the group's other floods would measure nothing
            finally:
                server.stop()
    return rows


_HEAD = ("| code | flood | answer | answer s | hub stall max ms | hub stall p99 ms | "
         "/healthz probes (failed) | /healthz p50 / max ms | loop_stall metric max s |")
_printed = False


def print_row(row: dict) -> None:
    """One Markdown table row (header first)."""
    global _printed
    if not _printed:
        print(_HEAD + "\n" + "|---" * 9 + "|", flush=True)
        _printed = True
    answer_s = "-" if row["answer_s"] is None else f"{row['answer_s']:.2f}"
    stall = ("≥ " if row["stall_at_least"] else "") + f"{row['stall_max_ms']:,.0f}"
    metric = "-" if row["metric_stall_max_s"] is None else f"{row['metric_stall_max_s']:g}"
    print(f"| {row['version']} | {row['flood']} | {row['answer']} | {answer_s} | {stall} | "
          f"{row['stall_p99_ms']:,.0f} | {row['healthz_probes']} ({row['healthz_failed']}) | "
          f"{row['healthz_p50_ms']:.0f} / {row['healthz_max_ms']:,.0f} | {metric} |", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run the floods against each version, print the table (and JSON)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--versions", default="before,after")
    p.add_argument("--before", default=BEFORE, help="git revision measured as 'before'")
    p.add_argument("--sizes", type=lambda s: [float(x) for x in s.split(",")],
                   default=[5.0, 20.0, 50.0], help="MB per body flood")
    p.add_argument("--signatures", default="no,bogus")
    p.add_argument("--fragments", type=int, default=550_000, help="~3.3 MB, as reported")
    p.add_argument("--sockets", type=int, default=1000)
    p.add_argument("--hold", type=float, default=15.0,
                   help="s the idle sockets are held (longer than START_TIMEOUT_S)")
    p.add_argument("--window", type=float, default=15.0,
                   help="s a flood may keep the worker from answering before it is called hung")
    p.add_argument("--server-cpu", type=int, default=0)
    p.add_argument("--attacker-cpu", type=int, default=1)
    p.add_argument("--baseline", type=float, default=2.0, help="s of no flood per group")
    p.add_argument("--nice", type=int, default=0,
                   help="renice server and attacker (and autogroups): -10 on a shared box")
    p.add_argument("--json")
    args = p.parse_args(argv)
    os.sched_setaffinity(0, {args.attacker_cpu})
    print(f"run of {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}, load average "
          f"{os.getloadavg()[0]:.2f}; server on CPU {args.server_cpu}, attacker on CPU "
          f"{args.attacker_cpu}; nice {args.nice}; before = {args.before}", flush=True)
    listener = _floods.StallListener()
    listener.start()
    rows = []
    for version in args.versions.split(","):
        rows += run_version(version, args.before if version == "before" else "after", args,
                            listener)
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
