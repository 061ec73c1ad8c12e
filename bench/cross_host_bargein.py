"""Barge-in latency when the talker's fork and the AI leg are on different hosts (issue 12, 5).

Two Forkline hosts (the Procfile's gunicorn, one worker each, separate ports) share one
PostgreSQL database (created for the run) and Redis. Each trial: the echo AI is made to talk
(2 s of tone at once), then the human fork starts speaking; the latency is from the fork's
first voiced frame leaving the simulated Twilio to the AI leg's `clear` arriving at it. It
includes the VAD's own decision time (3 frames), the same for both placements, so the added
cost of the Redis hop is the difference. Same-host and cross-host trials alternate in one run.

  .venv/bin/python -m bench.cross_host_bargein [--trials 10]
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path

from agents.audio import voiced_frame
from tests.support.hosts import (
    Cluster,
    Host,
    ai_stream,
    fork_stream,
    released_cluster,
    seed_conference,
)

SILENCE = b"\xff" * 160
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


def tone(i: int) -> bytes:
    return bytes([i % 250, 5]) * 80


def _watch_clear(client) -> threading.Event:
    """An event set (with its time) when the client's stream receives `clear`."""
    seen = threading.Event()
    session = client.session
    receive = session.receive

    def wrapped(text, now):
        if not seen.is_set() and '"clear"' in (text if isinstance(text, str) else ""):
            seen.at = time.monotonic()  # type: ignore[attr-defined]
            seen.set()
        return receive(text, now)

    session.receive = wrapped
    return seen


def trial(cluster: Cluster, tenant: int, ai_host: Host, fork_host: Host) -> float | None:
    """ms from the first voiced fork frame sent to `clear` received on the AI leg."""
    room = "xb-" + uuid.uuid4().hex[:10]
    sids = {"customer": "CA" + uuid.uuid4().hex, "ai": "CA" + uuid.uuid4().hex}
    seed_conference(cluster.engine, tenant, room, sids)
    ai = ai_stream(ai_host, tenant, room, sids["ai"])
    fork = fork_stream(fork_host, tenant, room, sids["customer"], "customer", "customer")
    ai.connect()
    fork.connect()
    cleared = _watch_clear(ai)
    for i in range(100):
        ai.send_tick(inbound=tone(i))
    t0 = time.monotonic()
    first_voice = None
    for tick in range(60):
        time.sleep(max(0.0, t0 + tick * 0.02 - time.monotonic()))  # the 20 ms media clock
        if tick == 15:
            first_voice = time.monotonic()
        fork.send_tick(inbound=voiced_frame(tick) if tick >= 15 else SILENCE)
        ai.send_tick(inbound=SILENCE)
        ai.playout_frame()
    got = cleared.wait(5)
    ai.stop()
    fork.stop()
    if not got or first_voice is None:
        return None
    return (cleared.at - first_voice) * 1000.0  # type: ignore[attr-defined]


def _summary(name: str, values: list[float]) -> str:
    q = statistics.quantiles(values, n=20) if len(values) > 1 else values * 19
    return f"{name}: n={len(values)} p50 {statistics.median(values):.1f} ms, p95 {q[18]:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10, help="per placement")
    args = parser.parse_args()
    results: dict[str, list[float]] = {"same-host": [], "cross-host": []}
    missed = {"same-host": 0, "cross-host": 0}
    with tempfile.TemporaryDirectory() as tmp, released_cluster(
            Path(tmp), "forkline_xbench", REDIS_URL, TRANSCRIPTS_ENABLED="0") as cluster:
        host_a, host_b = cluster.start("host-a"), cluster.start("host-b")
        tenant, _ = cluster.tenant("xbench-" + uuid.uuid4().hex[:6])
        trial(cluster, tenant, host_a, host_a)  # warm-up: imports, pools, first sessions
        trial(cluster, tenant, host_b, host_a)
        for _ in range(args.trials):
            for name, ai_host in (("same-host", host_a), ("cross-host", host_b)):
                ms = trial(cluster, tenant, ai_host, host_a)
                if ms is None:
                    missed[name] += 1
                else:
                    results[name].append(ms)
    print("barge-in: fork's first voiced frame sent -> `clear` received on the AI leg"
          " (includes the VAD's 3-frame decision); fork always on host A, Procfile gunicorn,"
          " 1 worker per host, echo agent, shared PostgreSQL + Redis; machine shared")
    for name, values in results.items():
        print(_summary(name, values) + f", no clear: {missed[name]}")
    same, cross = results["same-host"], results["cross-host"]
    if same and cross:
        added = statistics.median(cross) - statistics.median(same)
        print(f"cross-host added latency (p50 difference): {added:.1f} ms;"
              f" ratio cross/same p50: {statistics.median(cross) / statistics.median(same):.2f}")


if __name__ == "__main__":
    main()
