"""Several Forkline hosts for real: the Procfile's gunicorn on separate ports, sharing only a
PostgreSQL database and a Redis server (as two machines behind a load balancer would).

Used by tests/conference/multihost and by bench/cross_host_bargein.py and bench/fault_runs.py.
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from conference.twilio.security import make_stream_token
from tests.support.pg import fresh_database
from tests.support.processes import free_port, procfile
from twilio_sim.media_client import MediaStreamClient

ROOT = Path(__file__).resolve().parents[2]
AUTH_TOKEN = "hosts-auth-token-0123456789abcdef"
ACCOUNT_SID = "AC" + "7" * 32
SECRET = "hosts-secret-key"  # one key for every host: a token minted by one opens the other


class Host:
    """One running gunicorn (one 'machine')."""

    def __init__(self, name: str, proc: subprocess.Popen, port: int, log: Path) -> None:
        self.name, self.proc, self.port, self.log = name, proc, port, log
        self.base = f"http://127.0.0.1:{port}"

    def ws(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def get(self, path: str, key: str) -> tuple[int, dict]:
        """(status, JSON) of an admin API GET."""
        req = urllib.request.Request(self.base + path, headers={"Authorization": f"Bearer {key}"})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def metrics(self) -> list:
        """Samples of /metrics (of whichever worker answers)."""
        with urllib.request.urlopen(self.base + "/metrics", timeout=10) as resp:
            text = resp.read().decode()
        return [s for f in text_string_to_metric_families(text) for s in f.samples]

    def metric(self, name: str, **labels: str) -> float:
        """One sample's value (0 when absent)."""
        return sum(s.value for s in self.metrics()
                   if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))

    def workers(self) -> list[int]:
        """PIDs of the gunicorn workers (children of the master, under the Procfile's shell)."""
        master = self.proc.pid
        with contextlib.suppress(OSError), open(f"/proc/{master}/comm") as f:
            if f.read().strip() in ("sh", "dash", "bash"):
                master = next(iter(_children(master)), master)
        return _children(master)

    def worker_of(self, client_port: int) -> int | None:
        """The worker PID holding the server side of the connection from `client_port`."""
        inodes = _tcp_inodes(self.port, client_port)
        for pid in self.workers():
            try:
                fds = os.listdir(f"/proc/{pid}/fd")
            except OSError:
                continue
            for fd in fds:
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
                        return pid
        return None

    def stop(self) -> None:
        """SIGTERM the process group we started, SIGKILL what lingers."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def _tcp_inodes(local_port: int, remote_port: int) -> set[str]:
    """socket:[inode] names of connections local_port <-> remote_port (/proc/net/tcp)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                local, remote = fields[1], fields[2]
                if (int(local.rsplit(":", 1)[1], 16) == local_port
                        and int(remote.rsplit(":", 1)[1], 16) == remote_port):
                    found.add(f"socket:[{fields[9]}]")
    return found


def client_port(client: MediaStreamClient) -> int:
    """The local TCP port of a stream client's current socket."""
    return client._link.ws.socket.getsockname()[1]


class Cluster:
    """The shared environment (database, Redis, keys) and the hosts started on it."""

    def __init__(self, workdir: Path, database_url: str, redis_url: str, **env: str) -> None:
        self.workdir = workdir
        self.database_url = database_url
        base = {k: v for k, v in os.environ.items()
                if not k.startswith(("TWILIO_", "OPENAI_", "FORKLINE_", "WEB_CONCURRENCY"))}
        base.update(PATH=f"{Path(sys.executable).parent}:{base.get('PATH', '')}",
                    DATABASE_URL=database_url, REDIS_URL=redis_url, AI_BACKEND="echo",
                    TWILIO_AUTH_TOKEN=AUTH_TOKEN, TWILIO_ACCOUNT_SID=ACCOUNT_SID,
                    TWILIO_API_URL="http://127.0.0.1:9", FORKLINE_SECRET_KEY=SECRET,
                    LOG_LEVEL="WARNING", WEB_CONCURRENCY="1", PUBLIC_URL="http://127.0.0.1:9",
                    RECORDINGS_DIR=str(workdir / "recordings"))
        base.update(env)
        self.env = base
        self.hosts: list[Host] = []
        self.engine = sa.create_engine(database_url.replace("postgresql://",
                                                            "postgresql+psycopg://", 1))

    def release(self) -> None:
        """The Procfile's release line (migrations) against the shared database."""
        subprocess.run(procfile()["release"], shell=True, cwd=ROOT, env=self.env, check=True,
                       capture_output=True, timeout=180)

    def tenant(self, name: str) -> tuple[int, str]:
        """A tenant made by the CLI: (id, API key)."""
        out = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "tenants", "create",
                              name], cwd=ROOT, env=self.env, capture_output=True, text=True,
                             check=True, timeout=60).stdout
        with self.engine.connect() as conn:
            tid = conn.execute(sa.text("SELECT id FROM tenant WHERE name=:n"), {"n": name})
            return int(tid.scalar_one()), out.strip().splitlines()[-1]

    def start(self, name: str, **env: str) -> Host:
        """One host: the Procfile's web line on a free port; returns once /readyz answers."""
        port = free_port()
        host_env = dict(self.env, PORT=str(port), PUBLIC_URL=f"http://127.0.0.1:{port}", **env)
        log = self.workdir / f"{name}.log"
        with log.open("ab") as sink:
            proc = subprocess.Popen(procfile()["web"], shell=True, cwd=ROOT, env=host_env,
                                    stdout=sink, stderr=sink, start_new_session=True)
        host = Host(name, proc, port, log)
        self.hosts.append(host)
        deadline = time.monotonic() + 180  # a shared, busy machine boots slowly
        while True:  # no readiness event from gunicorn: poll its health endpoint
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited:\n{log.read_text()[-3000:]}")
            with contextlib.suppress(OSError), urllib.request.urlopen(host.base + "/readyz",
                                                                      timeout=1):
                return host
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not come up:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)

    def stop(self) -> None:
        """Stop every host; dispose of the engine."""
        for host in self.hosts:
            host.stop()
        self.engine.dispose()

    def print_logs(self, lines: int = 30) -> None:
        """The last `lines` of each host's log, access lines left out (for a failed run)."""
        for host in self.hosts:
            kept = [x for x in host.log.read_text(errors="replace").splitlines()
                    if "gunicorn.access" not in x]
            print(f"--- {host.name} ---\n" + "\n".join(kept[-lines:]))


@contextlib.contextmanager
def released_cluster(workdir: Path, db_prefix: str, redis_url: str, print_logs: bool = False,
                     **env: str) -> Iterator[Cluster]:
    """A Cluster on a fresh PostgreSQL database, migrated by the release line; its hosts are
    stopped afterwards (and their logs printed, with `print_logs`)."""
    with fresh_database(db_prefix) as url:
        cluster = Cluster(workdir, url, redis_url, **env)
        try:
            cluster.release()
            yield cluster
        finally:
            cluster.stop()
            if print_logs:
                cluster.print_logs()


def stream_params(tenant: int, conference: str, kind: str, label: str, call_sid: str,
                  role: str = "customer", stream: str | None = None) -> dict:
    """customParameters of a stream as Forkline's TwiML would carry them (token bound to it)."""
    token = make_stream_token(SECRET, {"conference": conference, "tenant": tenant, "kind": kind,
                                       "label": label, "call": call_sid})
    name = {"stream": stream} if stream else {}  # the stream's unique name (issue 9, rule 3)
    if kind == "ai":
        return {"conference": conference, "tenant": str(tenant), "agent": "default",
                "mode": "speak", "coach": "", "token": token} | name
    return {"conference": conference, "tenant": str(tenant), "label": label, "role": role,
            "token": token} | name


def ai_stream(host: Host, tenant: int, conference: str, call_sid: str,
              stream: str | None = None) -> MediaStreamClient:
    """The Twilio side of the AI leg's <Connect><Stream> to `host`."""
    return MediaStreamClient(host.ws("/twilio/ai-stream"), auth_token=AUTH_TOKEN,
                             account_sid=ACCOUNT_SID, call_sid=call_sid, bidirectional=True,
                             custom_parameters=stream_params(tenant, conference, "ai", "ai",
                                                             call_sid, stream=stream))


def fork_stream(host: Host, tenant: int, conference: str, call_sid: str, label: str,
                role: str) -> MediaStreamClient:
    """The Twilio side of a human leg's <Start><Stream> fork to `host`."""
    return MediaStreamClient(host.ws("/twilio/fork"), auth_token=AUTH_TOKEN,
                             account_sid=ACCOUNT_SID, call_sid=call_sid,
                             custom_parameters=stream_params(tenant, conference, "fork", label,
                                                             call_sid, role,
                                                             stream=f"fork-{label}-1"))


def seed_conference(engine: sa.Engine, tenant: int, name: str, legs: dict[str, str]) -> None:
    """An in-progress conference with a participant per label -> CallSid ('ai' is the AI)."""
    with engine.begin() as conn:
        conf_id = conn.execute(sa.text(
            "INSERT INTO conference (tenant_id, name, status, created_at) VALUES"
            " (:t, :n, 'in-progress', now()) RETURNING id"), {"t": tenant, "n": name}).scalar()
        for label, call_sid in legs.items():
            role = "ai" if label == "ai" else ("agent" if label == "agent" else "customer")
            conn.execute(sa.text(
                "INSERT INTO participant (conference_id, call_sid, label, role, mode, agent,"
                " muted, hold, coaching, status, fork_started, last_sequence, created_at)"
                " VALUES (:c, :sid, :l, :r, :m, :a, false, false, false, 'in-progress',"
                " false, -1, now())"),
                {"c": conf_id, "sid": call_sid, "l": label, "r": role,
                 "m": "speak" if role == "ai" else None, "a": "default" if role == "ai" else None})


class Ticker:
    """Drive clients in real time, 20 ms per tick, recording what each bidirectional leg plays."""

    def __init__(self) -> None:
        self.tick = 0
        self.t0 = time.monotonic()
        self.played: dict[int, list[bytes]] = {}

    def run(self, ticks: int, legs: list[tuple[MediaStreamClient, object]]) -> None:
        """For `ticks` ticks, send each leg's frame (source(tick) -> bytes | None), play out."""
        for _ in range(ticks):
            delay = self.t0 + self.tick * 0.02 - time.monotonic()
            if delay > 0:
                time.sleep(delay)  # the 20 ms media clock itself, not a wait for an event
            for client, source in legs:
                client.send_tick(inbound=source(self.tick))  # type: ignore[operator]
                if client.bidirectional:
                    self.played.setdefault(id(client), []).append(client.playout_frame())
            self.tick += 1

    def heard(self, client: MediaStreamClient) -> list[bytes]:
        """Every frame `client`'s caller heard, in order."""
        return self.played.get(id(client), [])
