"""Faults under load (issue 12, item 6): Redis outage, PostgreSQL outage, kill -9 of a worker.

One host, the Procfile's gunicorn with WEB_CONCURRENCY=2, reaches PostgreSQL (a database made
for the run) and Redis through TCP proxies the bench cuts (tests/support/tcpproxy.py; the
machine's services keep running for everyone else). Load: `--load` x `--capacity` echo AI
streams from bench/_loadgen.py (each frame carries its id, so a frame that never comes back is
lost). Schedule: Redis cut for --outage-s, then PostgreSQL cut for --outage-s (while it is
down, extra calls start, press keys and hang up: Stream rows and DTMF events that must land
after it, once), then kill -9 of the worker holding stream 0. Frames lost are counted per
worker; state writes are counted in the database (expected vs landed vs doubled) and from
each worker's forkline_state_writes_total.

  .venv/bin/python -m bench.fault_runs [--capacity 100] [--load 0.7] [--outage-s 4]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import signal
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import sqlalchemy as sa
from twilio.request_validator import RequestValidator

from bench._loadgen import FRAME_S, StreamClient, call_sid
from tests.support.hosts import ACCOUNT_SID, AUTH_TOKEN, Cluster, Host, ai_stream, stream_params
from tests.support.pg import fresh_database
from tests.support.tcpproxy import TcpProxy

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
EXTRA_CALLS = int(os.environ.get("FAULT_RUNS_EXTRA_CALLS", "5"))
DIGITS = "123"


def _spec(host: Host, tenant: int, n: int, seconds: float, run: int) -> dict:
    url = host.ws("/twilio/ai-stream")
    sig = RequestValidator(AUTH_TOKEN).compute_signature(url, {})
    params = [stream_params(tenant, f"fault-{i}", "ai", "ai", call_sid(i, run))
              for i in range(n)]
    return {"url": url, "headers": {"X-Twilio-Signature": sig}, "params": params,
            "first_index": 0, "streams": n, "total_streams": n, "run": run,
            "account_sid": ACCOUNT_SID, "warmup_s": 1.0, "duration_s": seconds, "drain_s": 3.0}


def _worker_samples(host: Host, name: str) -> dict[str, float]:
    """name's retried count summed over the host's workers (one scrape sums every worker)."""
    samples = host.metrics()
    return {"all workers": sum(s.value for s in samples if s.name == name
                               and s.labels.get("outcome") == "retried")}


class Faults:
    """The fault schedule, run in a thread beside the load; notes what it did."""

    def __init__(self, direct: sa.Engine, host: Host, tenant: int, redis_proxy: TcpProxy,
                 pg_proxy: TcpProxy, outage_s: float, victim: int) -> None:
        self.direct, self.host, self.tenant = direct, host, tenant
        self.redis_proxy, self.pg_proxy, self.outage_s, self.victim = (redis_proxy, pg_proxy,
                                                                      outage_s, victim)
        self.extra: list[str] = []
        self.log: list[tuple[float, str]] = []
        self.landed_in = 0.0

    def run(self, t0: float) -> None:
        self._at(t0 + 3, "redis cut", self.redis_proxy.cut)
        self._at(t0 + 3 + self.outage_s, "redis restored", self.redis_proxy.restore)
        start = t0 + 5 + self.outage_s
        self._at(start, "postgres cut", self.pg_proxy.cut)
        if EXTRA_CALLS:
            self._extra_calls()
        self._at(start + self.outage_s, "postgres restored", self.pg_proxy.restore)
        # The queue is in memory: a worker killed before its retries land loses them. Kill
        # once the outage's writes are in (the run reports how long that took).
        self.landed_in = _wait_landed(self.direct, self.extra)
        self._at(time.monotonic(), "kill -9 worker", lambda: os.kill(self.victim,
                                                                      signal.SIGKILL))

    def _at(self, when: float, what: str, action) -> None:
        time.sleep(max(0.0, when - time.monotonic()))  # the schedule's own clock
        action()
        self.log.append((time.monotonic(), what))

    def _extra_calls(self) -> None:
        """Calls that start, press keys and hang up while the database is away."""
        for _ in range(EXTRA_CALLS):
            sid = "CA" + uuid.uuid4().hex
            client = ai_stream(self.host, self.tenant, "fault-extra", sid)
            client.connect()
            for digit in DIGITS:
                client.send_dtmf(digit)
            client.stop()
            self.extra.append(sid)


async def _load(spec: dict, host: Host, faults: Faults) -> tuple[list[dict], dict[int, int]]:
    n_frames = round((spec["warmup_s"] + spec["duration_s"]) / FRAME_S)
    clients = [StreamClient(spec, i, n_frames, round(spec["warmup_s"] / FRAME_S))
               for i in range(spec["streams"])]
    limit = asyncio.Semaphore(16)
    await asyncio.gather(*(c.open(limit) for c in clients))
    owner = {c.index: host.worker_of(c.ws.transport.get_extra_info("sockname")[1]) or 0
             for c in clients if c.ws is not None}
    faults.victim = owner.get(0, 0)
    loop = asyncio.get_running_loop()
    t0 = loop.time() + 0.5
    thread = threading.Thread(target=faults.run, args=(time.monotonic() + 0.5,), daemon=True)
    thread.start()
    await asyncio.gather(*(c.run(t0 + FRAME_S * c.index / len(clients), spec["drain_s"])
                           for c in clients))
    await asyncio.to_thread(thread.join)
    results = [dict(c.result(), lost_sent_at=[t for t, back in zip(c.sent_at, c.received_at,
                                                                   strict=True)
                                              if t and not back])
               for c in clients]
    await asyncio.gather(*(c.hang_up() for c in clients))
    return results, owner


def _expected() -> dict[str, int]:
    return {"stream rows": EXTRA_CALLS, "stopped": EXTRA_CALLS,
            "dtmf events": EXTRA_CALLS * len(DIGITS)}


def _wait_landed(engine: sa.Engine, extra: list[str], timeout_s: float = 60.0) -> float:
    """Seconds until the outage's writes are all in the database (polled: no event to await)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        landed = _landed(engine, extra)
        if all(landed[k] >= v for k, v in _expected().items()):
            break
        time.sleep(0.2)
    return time.monotonic() - t0


def _landed(engine: sa.Engine, extra: list[str]) -> dict[str, int]:
    with engine.connect() as conn:
        streams = conn.execute(sa.text(
            "SELECT count(*), count(DISTINCT stream_sid) FROM stream WHERE call_sid = ANY(:c)"),
            {"c": extra}).one()
        dtmf = conn.execute(sa.text(
            "SELECT count(*), count(DISTINCT dedup_key) FROM conference_event"
            " WHERE event='dtmf' AND call_sid = ANY(:c)"), {"c": extra}).one()
        stopped = conn.execute(sa.text(
            "SELECT count(*) FROM stream WHERE call_sid = ANY(:c) AND status='stopped'"),
            {"c": extra}).scalar()
    return {"stream rows": streams[0], "distinct streams": streams[1], "stopped": stopped,
            "dtmf events": dtmf[0], "distinct dtmf": dtmf[1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--capacity", type=int, default=100, help="streams at capacity")
    parser.add_argument("--load", type=float, default=0.7)
    parser.add_argument("--outage-s", type=float, default=4.0)
    args = parser.parse_args()
    n = max(2, round(args.capacity * args.load))
    seconds = 3 + args.outage_s + 2 + args.outage_s + 2 + 6
    with tempfile.TemporaryDirectory() as tmp, fresh_database("forkline_faults") as url:
        pg, rd = TcpProxy.in_front_of(url, 5432), TcpProxy.in_front_of(REDIS_URL, 6379)
        cluster = Cluster(Path(tmp), pg.url_for(url), rd.url_for(REDIS_URL),
                          TRANSCRIPTS_ENABLED="0")
        direct = sa.create_engine(url)
        try:
            cluster.release()
            host = cluster.start("web", WEB_CONCURRENCY="2")
            tenant, _ = cluster.tenant("faults-" + uuid.uuid4().hex[:6])
            faults = Faults(direct, host, tenant, rd, pg, args.outage_s, 0)
            results, owner = asyncio.run(_load(_spec(host, tenant, n, seconds, 1), host, faults))
            landed, expected = _landed(direct, faults.extra), _expected()
            retried = _worker_samples(host, "forkline_state_writes_total")
        finally:
            cluster.stop()
            direct.dispose()
            if os.environ.get("FAULT_RUNS_LOG"):
                lines = [x for x in (Path(tmp) / "web.log").read_text().splitlines()
                         if "gunicorn.access" not in x]
                print("\n".join(lines[-int(os.environ["FAULT_RUNS_LOG"]):]))
            pg.close()
            rd.close()
    _report(n, args, results, owner, faults, landed, expected, retried)


def _phase(at: float, log: list[tuple[float, str]]) -> str:
    """The fault in force when a frame was sent ('before' the first one)."""
    current = "before faults"
    for when, what in log:
        if at >= when:
            current = what
    return current


def _report(n, args, results, owner, faults, landed, expected, retried) -> None:
    lost: Counter = Counter()
    streams: Counter = Counter()
    by_phase: dict[int, Counter] = {}
    for k, r in enumerate(results):
        pid = owner.get(k, 0)
        lost[pid] += r["lost"]
        streams[pid] += 1
        phases = by_phase.setdefault(pid, Counter())
        for sent in r["lost_sent_at"]:
            phases[_phase(sent, faults.log)] += 1
    print(f"fault runs: {n} echo AI streams ({args.load:.0%} of {args.capacity}), Procfile"
          f" gunicorn WEB_CONCURRENCY=2, outages {args.outage_s:.0f} s; machine shared")
    t0 = faults.log[0][0] if faults.log else 0.0
    print("schedule: " + "; ".join(f"+{when - t0:.1f} s {what}" for when, what in faults.log))
    print(f"the PostgreSQL outage's writes were all in {faults.landed_in:.1f} s after restore")
    for pid in sorted(streams):
        tag = "killed" if pid == faults.victim else "spared"
        print(f"worker {pid} ({tag}): {streams[pid]} streams, frames lost {lost[pid]}"
              f" (by phase: {dict(by_phase[pid])})")
    print(f"state writes made during the PostgreSQL outage: expected {expected}, landed"
          f" {landed}")
    print(f"writes retried, all workers (forkline_state_writes_total{{retried}}):"
          f" {retried}")


if __name__ == "__main__":
    main()
