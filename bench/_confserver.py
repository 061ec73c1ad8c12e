"""The product under the conference bench: the Procfile's gunicorn, optionally pinned to a core.

Started like bench/_targets.Forkline (release migration, seeded rows, signed upgrades) with
transcripts on, recordings under the work directory, the chosen AI backend, and Redis for the
cross-worker signals when there is more than one worker. Per-worker views come from /metrics
(`forkline_worker_pid` says which worker answered) and from /proc (sockets per worker).
"""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import urllib.request
import uuid
from collections import defaultdict
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from bench import _procstat
from bench._confseed import tenant_of
from bench._targets import ACCOUNT_SID, AUTH_TOKEN, ROOT, SECRET, GunicornTarget, free_port

# The tests' PostgreSQL (trust auth); each server gets a fresh database created through it.
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


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
        held = set()  # distinct sockets: the media route also holds a dup() of each one
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    link = os.readlink(f"/proc/{pid}/fd/{fd}")
                    if link[8:-1] in inodes:
                        held.add(link)
        except OSError:
            pass
        counts[pid] = len(held)
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
                 redis_url: str | None = None, extra_env: dict | None = None,
                 reuse_port: bool | None = None) -> None:
        super().__init__(workdir, workers, cpu=cpu)
        self.reuse_port = reuse_port  # None: gunicorn.conf.py as shipped
        self.agent = agent
        self.database_url = database_url or "pg"
        self.fresh_db: str | None = None
        self.redis_url = redis_url if workers > 1 else None
        self.extra_env = extra_env or {}
        self.tenants: dict = {}

    def env(self) -> dict:
        env = super().env()
        env.update(DATABASE_URL=self.database_url, AI_BACKEND=self.agent,
                   PUBLIC_URL=f"http://127.0.0.1:{self.port}", TWILIO_AUTH_TOKEN=AUTH_TOKEN,
                   TWILIO_ACCOUNT_SID=ACCOUNT_SID, FORKLINE_SECRET_KEY=SECRET,
                   TRANSCRIPTS_ENABLED="1", RECORDINGS_DIR=str(self.workdir / "recordings"),
                   LOG_LEVEL="WARNING")
        env.update(self.extra_env)  # may override the defaults above (TRANSCRIPTS_ENABLED=0)
        if self.redis_url:
            env["REDIS_URL"] = self.redis_url
        return env

    def start(self, conferences: int = 500) -> None:
        """Migrate, seed, start gunicorn (under taskset when pinned: Target._spawn)."""
        if self.database_url == "sqlite":
            self.database_url = f"sqlite:///{self.workdir / 'forkline.sqlite'}"
        elif self.database_url == "pg":  # a database of its own, dropped at stop()
            self.fresh_db = f"confbench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
            _admin(f"CREATE DATABASE {self.fresh_db}")
            self.database_url = f"{PG_ADMIN.rsplit('/', 1)[0]}/{self.fresh_db}"
        self.port = free_port()
        env = self.env()
        subprocess.run([sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"],
                       cwd=ROOT, env=env, check=True, capture_output=True)
        out = subprocess.run([sys.executable, "-m", "bench._confseed", str(conferences)],
                             cwd=ROOT, env=env, check=True, capture_output=True, text=True)
        self.tenants = json.loads(out.stdout.splitlines()[-1])
        super().start()

    def _spawn(self, argv: list[str], env: dict | None = None, **kw) -> subprocess.Popen:
        if self.reuse_port is not None and argv[0].endswith("gunicorn"):
            # The shipped settings with reuse_port overridden (bench/README.md: worker spread).
            conf = self.workdir / "gunicorn_variant.py"
            conf.write_text(f"exec(open({str(ROOT / 'gunicorn.conf.py')!r}).read())\n"
                            f"reuse_port = {self.reuse_port!r}\n")
            argv = [argv[0], "--config", str(conf), *argv[1:]]
        return super()._spawn(argv, env=env, **kw)

    def stop(self) -> None:
        """Stop gunicorn, then drop the database it was given."""
        super().stop()
        if self.fresh_db:
            _admin(f"DROP DATABASE IF EXISTS {self.fresh_db} WITH (FORCE)")
            self.fresh_db = None

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


def _admin(statement: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(statement))
    finally:
        engine.dispose()


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
        if ("forkline_workers_live", ()) in got["samples"]:
            # A multiprocess exposition already sums every live worker: one scrape is all.
            return {pid: got["samples"] if pid == 0 else {} for pid in range(workers)}
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
