"""The product under the conference bench: the Procfile's gunicorn, optionally pinned to a core.

Started like bench/_targets.Forkline (release migration, seeded rows, signed upgrades) with
transcripts on, recordings under the work directory, the chosen AI backend, and Redis for the
cross-worker signals when there is more than one worker. Per-worker views come from /metrics
(`forkline_worker_pid` says which worker answered) and from /proc (sockets per worker).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections import defaultdict
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from bench import _procstat
from bench._confseed import tenant_of
from bench._targets import ACCOUNT_SID, AUTH_TOKEN, ROOT, SECRET, GunicornTarget, free_port


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it (gunicorn workers, their CPU-pool processes)."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo += _procstat.children(p)
    return found


def reaped_cpu_seconds(pid: int) -> float:
    """CPU of `pid`'s children that already exited (espeak-ng runs), from /proc/PID/stat."""
    fields = _procstat._stat_fields(pid)
    return 0.0 if fields is None else (int(fields[13]) + int(fields[14])) / _procstat._TICK


def established(pids: list[int], port: int) -> dict[int, int]:
    """Established TCP connections to `port` held by each pid (sockets per worker)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if f[3] == "01" and int(f[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f[9])
    counts = {}
    for pid in pids:
        try:
            links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        except OSError:
            counts[pid] = 0
            continue
        counts[pid] = sum(1 for link in links if link[8:-1] in inodes)
    return counts


def fd_count(pid: int) -> int:
    """Open descriptors of `pid`."""
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


class ConferenceServer(GunicornTarget):
    """Forkline for whole conferences."""

    name = "forkline"
    app_spec = "app:create_app()"

    def __init__(self, workdir: Path, workers: int = 1, agent: str = "echo",
                 cpu: str | None = None, database_url: str | None = None,
                 redis_url: str | None = None, extra_env: dict | None = None) -> None:
        super().__init__(workdir, workers)
        self.agent, self.cpu = agent, cpu
        self.database_url = database_url or f"sqlite:///{workdir / 'forkline.sqlite'}"
        self.redis_url = redis_url if workers > 1 else None
        self.extra_env = extra_env or {}
        self.tenants: dict = {}

    def env(self) -> dict:
        env = super().env()
        env.update(DATABASE_URL=self.database_url, AI_BACKEND=self.agent,
                   PUBLIC_URL=f"http://127.0.0.1:{self.port}", TWILIO_AUTH_TOKEN=AUTH_TOKEN,
                   TWILIO_ACCOUNT_SID=ACCOUNT_SID, FORKLINE_SECRET_KEY=SECRET,
                   TRANSCRIPTS_ENABLED="1", RECORDINGS_DIR=str(self.workdir / "recordings"),
                   LOG_LEVEL="WARNING", **self.extra_env)
        if self.redis_url:
            env["REDIS_URL"] = self.redis_url
        return env

    def start(self, conferences: int = 500) -> None:
        """Migrate, seed, start gunicorn (under taskset when pinned)."""
        self.port = free_port()
        env = self.env()
        subprocess.run([sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"],
                       cwd=ROOT, env=env, check=True, capture_output=True)
        out = subprocess.run([sys.executable, "-m", "bench._confseed", str(conferences)],
                             cwd=ROOT, env=env, check=True, capture_output=True, text=True)
        self.tenants = json.loads(out.stdout.splitlines()[-1])
        super().start()

    def _spawn(self, argv: list[str], env: dict | None = None, **kw) -> subprocess.Popen:
        if self.cpu is not None:
            argv = ["taskset", "-c", self.cpu, *argv]
        return super()._spawn(argv, env=env, **kw)

    def pids(self) -> list[int]:
        """gunicorn master, workers and their pool processes."""
        return descendants(self.proc.pid) if self.proc else []

    def workers_pids(self) -> list[int]:
        """The gunicorn workers (the master's children)."""
        return _procstat.children(self.proc.pid) if self.proc else []

    def url(self, path: str) -> str:  # type: ignore[override]
        return f"ws://127.0.0.1:{self.port}/twilio/{path}"

    def signed(self, path: str) -> dict:
        """X-Twilio-Signature of the upgrade to /twilio/<path>."""
        from twilio.request_validator import RequestValidator

        validator = RequestValidator(AUTH_TOKEN)
        return {"X-Twilio-Signature": validator.compute_signature(self.url(path), {})}

    def conference(self, index: int, run: int, legs: tuple[str, ...]) -> dict:
        """Call sids and start parameters (signed tokens) of conference `index` in step `run`."""
        from conference.twilio.security import make_stream_token

        name, tenant = f"conf-{index}", tenant_of(index, self.tenants)
        out: dict = {"index": index}
        for n, label in enumerate(legs):
            call = f"C{'ABC'[n]}{run:08x}{index:022x}"
            kind = "ai" if label == "ai" else "fork"
            claims = {"conference": name, "tenant": tenant, "kind": kind, "label": label,
                      "call": call}
            params = {"conference": name, "tenant": str(tenant),
                      "token": make_stream_token(SECRET, claims)}
            if kind == "ai":
                params.update(agent="default", mode="speak", coach="")
            else:
                params.update(label=label, role=label)
            out[label] = [call, params]
        return out


def scrape(port: int) -> dict:
    """One /metrics answer: {(name, labels tuple): value} plus the answering worker's pid."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    pid = int(samples.get(("forkline_worker_pid", ()), 0))
    return {"pid": pid, "samples": samples}


def scrape_workers(port: int, workers: int, tries: int = 40) -> dict[int, dict]:
    """A /metrics answer from each worker (new connections land on either; bounded tries)."""
    seen: dict[int, dict] = {}
    for _ in range(tries):
        try:
            got = scrape(port)
        except OSError:
            continue
        seen.setdefault(got["pid"], got["samples"])
        if len(seen) >= workers:
            break
    return seen


def total(per_worker: dict[int, dict], name: str, **labels: str) -> float:
    """A sample summed over the workers."""
    key = (name, tuple(sorted(labels.items())))
    return sum(s.get(key, 0.0) for s in per_worker.values())


def buckets(per_worker: dict[int, dict], name: str) -> dict[float, float]:
    """A histogram's cumulative buckets summed over workers (le -> count)."""
    out: dict[float, float] = defaultdict(float)
    for samples in per_worker.values():
        for (sample, labels), value in samples.items():
            if sample == name + "_bucket":
                out[float(dict(labels)["le"])] += value
    return dict(out)
