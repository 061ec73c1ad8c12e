"""AI-leg media benchmark: N concurrent echo streams at 50 frames/s each way, per target.

Finds each target's capacity (the largest N with frame round-trip p99 under 40 ms and no lost
frames) on the same load generator, in one invocation, stepping N for every target in turn so
they see the same machine load. Every target's server runs pinned to the same core (taskset,
`--pin 0:1`) and the generators to the other, so capacities are streams per core (`--pin off`
for the whole box). Targets: bare (asyncio websockets relay, the baseline), flask (plain
flask-sock echo under the Procfile's gunicorn -k gevent) and forkline (the product).

  .venv/bin/python -m bench.media_bench [--targets bare,flask,forkline] [--json out.json]
"""
from __future__ import annotations

import argparse
import contextlib
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

from bench import _loopstall, _procstat
from bench._report import markdown, print_step, print_summary, step_summary
from bench._targets import ACCOUNT_SID, ROOT, TARGETS, pinned

DEFAULT_STEPS = "10,20,40,60,80,100,120,150,200,250,300,400"


def run_step(target, n: int, args) -> dict:
    """Run n streams against `target` once; return the merged, summarised measurements (a
    failed row if the step itself broke); never leaves a generator process behind."""
    gens: list[subprocess.Popen] = []
    try:
        return _measure(target, n, args, gens)
    except Exception as exc:  # noqa: BLE001 - reported as a failed step, the search goes on
        step = step_summary(target.name, n, 0, [], server_cpu=0.0, gen_cpu=0.0,
                            machine_cpu=0.0, rss=0, rss_base=0, limit_ms=args.p99_limit)
        step["errors"] = [f"step: {type(exc).__name__}: {exc}"[:300]]
        return step
    finally:
        for gen in gens:
            if gen.poll() is None:
                gen.kill()
                gen.wait()


def _measure(target, n: int, args, gens: list) -> dict:
    # One asyncio generator copes with ~120 streams on this box next to the server.
    wanted = args.procs or -(-n // 120)
    nprocs = max(1, min(wanted, n))
    run = random.getrandbits(32)
    shares = [n // nprocs + (1 if i < n % nprocs else 0) for i in range(nprocs)]
    first = 0
    for share in shares:
        spec = {
            "url": target.url, "headers": target.headers(), "account_sid": ACCOUNT_SID,
            "params": [target.params(first + i, run) for i in range(share)],
            "first_index": first, "streams": share, "total_streams": n, "run": run,
            "warmup_s": args.warmup, "duration_s": args.duration, "drain_s": args.drain,
            "slow_ms": args.p99_limit,
        }
        # Own session = own scheduler autogroup, so --nice can raise it (see set_nice).
        argv = pinned([sys.executable, "-m", "bench._loadgen"], getattr(args, "gen_cpu", None))
        gen = subprocess.Popen(argv, cwd=ROOT, text=True, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, start_new_session=True)
        gen.stdin.write(orjson.dumps(spec).decode() + "\n")
        gen.stdin.flush()
        gens.append(gen)
        first += share
    connected = sum(int(gen.stdout.readline().split()[1]) for gen in gens)
    server_pids, gen_pids = target.pids(), [g.pid for g in gens]
    if args.nice:
        set_nice(server_pids + gen_pids, args.nice)
    # Steady state is measured: let the server finish its per-call setup work first (how long
    # that took is reported: it is what a burst of call starts costs).
    busy_after_connect = settle(target, timeout_s=10.0)
    start = time.time() + 0.2
    for gen in gens:
        gen.stdin.write(f"GO {start}\n")
        gen.stdin.flush()
    # The CPU window is the measured part of the run, after the warm-up frames.
    time.sleep(max(0.0, start + args.warmup - time.time()))
    spy = start_py_spy(target, n, args)
    stalls_before = _loopstall.snapshot(target.port)
    before = _procstat.sample(server_pids + gen_pids)
    time.sleep(args.duration)
    after = _procstat.sample(server_pids + gen_pids)
    stalls = _loopstall.step(stalls_before, _loopstall.snapshot(target.port))
    if spy is not None:
        spy.wait()
    rss = sum(_procstat.rss_bytes(p) for p in server_pids)
    for gen in gens:
        gen.stdout.readline()  # DONE: all echoes back or drained
    for gen in gens:
        gen.stdin.write("BYE\n")
        gen.stdin.flush()
    streams = []
    for gen in gens:
        out, _ = gen.communicate(timeout=args.warmup + args.duration + args.drain + 60)
        streams += orjson.loads(out.splitlines()[-1])["streams"]
    return {**step_summary(
        target.name, n, connected, streams,
        server_cpu=_procstat.cpu_percent(before, after, server_pids),
        gen_cpu=_procstat.cpu_percent(before, after, gen_pids),
        machine_cpu=_procstat.machine_percent(before, after),
        server_wait=_procstat.wait_percent(before, after, server_pids),
        gen_wait=_procstat.wait_percent(before, after, gen_pids),
        rss=rss, rss_base=target.rss_base, limit_ms=args.p99_limit,
        busy_after_connect=busy_after_connect,
    ), **stalls}


def set_nice(pids: list[int], nice: int) -> None:
    """Renice our processes and their autogroups: with sched_autogroup on, a process's nice
    only ranks it within its session, and sessions compete by their autogroup's nice."""
    for pid in pids:
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, pid, nice)
        with contextlib.suppress(OSError), open(f"/proc/{pid}/autogroup", "w") as f:
            f.write(str(nice))


def start_py_spy(target, n: int, args) -> subprocess.Popen | None:
    """With --py-spy DIR: sample the busiest server process during the measured window."""
    if not args.py_spy or n < 2:
        return None
    pids = target.pids()
    pid = max(pids, key=_procstat.cpu_seconds)
    out = Path(args.py_spy) / f"{target.name}-{n}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    spy = Path(sys.executable).parent / "py-spy"
    cmd = [str(spy), "record", "--pid", str(pid), "--duration", str(int(args.duration)),
           "--rate", "250", "--nonblocking", "--format", "raw", "--output", str(out)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def settle(target, timeout_s: float = 5.0) -> float:
    """Wait until the server is idle (under 5% CPU for 0.25 s); return how long that took."""
    pids = target.pids()
    began = time.monotonic()
    previous = _procstat.sample(pids)
    while time.monotonic() < began + timeout_s:
        time.sleep(0.25)
        current = _procstat.sample(pids)
        if _procstat.cpu_percent(previous, current, pids) < 5.0:
            break
        previous = current
    return time.monotonic() - began


def search(targets: dict, steps: list[int], args) -> list[dict]:
    """Step N upward for every live target in turn; a target leaves at its first failure."""
    results, alive = [], dict(targets)
    deadline = time.monotonic() + args.max_seconds
    last_pass: dict[str, int] = {}
    first_fail: dict[str, int] = {}
    for n in steps:
        for name, target in list(alive.items()):
            if time.monotonic() > deadline:
                alive.clear()
                break
            step = attempt(target, n, args, results)
            if step["passed"]:
                last_pass[name] = n
            else:
                first_fail[name] = n
                del alive[name]
    for name, bad in first_fail.items():  # one bisection step between last pass and first fail
        good = last_pass.get(name, 0)
        middle = (good + bad) // 2
        if args.refine and bad - good > 10 and good and time.monotonic() < deadline:
            attempt(targets[name], middle, args, results)
    return results


def attempt(target, n: int, args, results: list[dict]) -> dict:
    """Run a step up to --attempts times until it passes (the machine is shared: a failure may
    be another process's burst); every attempt is printed and kept."""
    for number in range(1, args.attempts + 1):
        settle(target)
        step = run_step(target, n, args)
        step["attempt"] = number
        print_step(step)
        results.append(step)
        if step["passed"]:
            break
    return step


def start_targets(names: list[str], workdir: Path, args) -> tuple[dict, dict]:
    """Start each target and warm it with one short stream; return (targets, start errors)."""
    started, errors = {}, {}
    for name in names:
        hook = (args.hook, args.hook_dir) if args.hook else None
        target = TARGETS[name](workdir, workers=args.workers, hook=hook, cpu=args.server_cpu)
        try:
            target.start()
            warm = argparse.Namespace(**{**vars(args), "warmup": 0.2, "duration": 1.0})
            target.rss_base = 0
            check = run_step(target, 1, warm)
            if check["connected"] != 1 or check["received"] == 0:
                raise RuntimeError(f"warm-up stream failed: {check['errors'] or check}")
            target.rss_base = sum(_procstat.rss_bytes(p) for p in target.pids())
            started[name] = target
        except Exception as exc:  # noqa: BLE001 - one broken target must not stop the others
            errors[name] = f"{type(exc).__name__}: {exc}"[:2000]
            target.stop()
    return started, errors


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the search, print the table (and JSON)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--targets", default="bare,flask,forkline")
    p.add_argument("--steps", default=DEFAULT_STEPS, help="comma-separated stream counts")
    p.add_argument("--warmup", type=float, default=1.0, help="seconds sent before measuring")
    p.add_argument("--duration", type=float, default=5.0, help="measured seconds per step")
    p.add_argument("--drain", type=float, default=1.0, help="seconds to wait for late echoes")
    p.add_argument("--procs", type=int, default=0,
                   help="load-generator processes (default: one per 120 streams)")
    p.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", 1)),
                   help="gunicorn workers (the Procfile's WEB_CONCURRENCY, default 1)")
    p.add_argument("--p99-limit", type=float, default=40.0, help="ms")
    p.add_argument("--attempts", type=int, default=2, help="tries per step before it fails")
    p.add_argument("--nice", type=int, default=0,
                   help="run servers and generator at this nice level (e.g. -10 on a shared box)")
    p.add_argument("--pin", default="0:1",
                   help="SERVER_CPUS:GENERATOR_CPUS for taskset, alike for every target; 'off'")
    p.add_argument("--no-refine", dest="refine", action="store_false")
    p.add_argument("--max-seconds", type=float, default=600, help="stop stepping after this")
    p.add_argument("--py-spy", metavar="DIR",
                   help="profile the server during each step into DIR/<target>-<N>.txt (raw)")
    p.add_argument("--hook", choices=("cprofile", "gcstat", "gcfreeze", "wsprotocol"),
                   help="instrument gunicorn workers (see bench/_hook_conf.py)")
    p.add_argument("--hook-dir", default="bench-hooks", help="where --hook writes <target>/")
    p.add_argument("--json", help="also write the results as JSON to this path ('-' = stdout)")
    p.add_argument("--markdown", help="also write capacities and steps as Markdown to this path")
    args = p.parse_args(argv)
    args.server_cpu, args.gen_cpu = (None, None) if args.pin == "off" else args.pin.split(":")
    names = [n for n in args.targets.split(",") if n]
    steps = [int(s) for s in args.steps.split(",")]
    meta = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "loadavg_start": os.getloadavg(), "cpus": os.cpu_count(), "args": vars(args)}
    with tempfile.TemporaryDirectory(prefix="media-bench-") as tmp:
        targets, errors = start_targets(names, Path(tmp), args)
        try:
            for name, error in errors.items():
                print(f"[{name}] could not be benchmarked: {error}", file=sys.stderr)
            results = search(targets, steps, args)
        finally:
            for target in targets.values():
                target.stop()
    meta["loadavg_end"] = os.getloadavg()
    report = print_summary(results, names, errors, meta)
    if args.markdown:
        Path(args.markdown).write_text(markdown(report))
    if args.json:
        text = orjson.dumps(report, option=orjson.OPT_INDENT_2).decode()
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
