"""Servers under test, each started on 127.0.0.1 in its own process group and stopped after.

- `bare`: bench/bare_relay.py (asyncio websockets), the baseline;
- `flask`: bench/flask_echo.py served by the Procfile's gunicorn command line;
- `lean`: bench/flask_lean.py, the same echo on an inline WebSocket (a media-plane prototype);
- `forkline`: the product, `app:create_app()` by the Procfile's command line, with a temp SQLite
  database migrated by the Procfile's release command, AI_BACKEND=echo and signed upgrades.
"""
from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from bench import _procstat

ROOT = Path(__file__).resolve().parent.parent
PATH = "/twilio/ai-stream"
AUTH_TOKEN = "bench-auth-token-0123456789abcdef"
ACCOUNT_SID = "AC" + "b" * 32
SECRET = "bench-secret-key"
_DROPPED_ENV = ("DATABASE_URL", "REDIS_URL", "PUBLIC_URL", "AI_BACKEND", "OPENAI_API_KEY")


def free_port() -> int:
    """A port nobody listens on right now (the server binds it a moment later)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def procfile_command(app_spec: str, port: int, workers: int) -> list[str]:
    """The Procfile's `web:` line with PORT/WEB_CONCURRENCY filled in, bound to loopback."""
    line = next(
        raw.split(":", 1)[1] for raw in (ROOT / "Procfile").read_text().splitlines()
        if raw.startswith("web:")
    )
    line = line.replace("${WEB_CONCURRENCY:-1}", str(workers)).replace("$PORT", str(port))
    argv = [a.replace("0.0.0.0:", "127.0.0.1:") for a in shlex.split(line)]
    argv[argv.index("app:create_app()")] = app_spec
    return [str(Path(sys.executable).parent / argv[0]), *argv[1:]]


def pinned(argv: list[str], cpu: str | None) -> list[str]:
    """`argv` under `taskset -c cpu` (its children inherit the affinity); as is for None."""
    return argv if cpu is None else ["taskset", "-c", cpu, *argv]


def _wait_listening(port: int, proc: subprocess.Popen, log: Path, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{_tail(log)}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)  # polling a port: there is no event to wait on
    raise RuntimeError(f"server did not listen on {port} within {timeout_s}s:\n{_tail(log)}")


def _tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class Target:
    """A server under test: started, sampled, stopped."""

    name = "?"

    def __init__(self, workdir: Path, workers: int = 1, hook: tuple[str, str] | None = None,
                 cpu: str | None = None):
        self.workdir, self.workers = workdir, workers
        self.cpu = cpu  # taskset CPU list the server (and every process it forks) runs on
        self.hook = hook  # (cprofile|gcstat|gcfreeze, output dir): see bench/_hook_conf.py
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self.log = workdir / f"{self.name}.log"

    def start(self) -> None:
        """Launch the server and return once it accepts connections."""
        raise NotImplementedError

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}{PATH}"

    def headers(self) -> dict:
        """The upgrade headers Twilio would send: X-Twilio-Signature over the ws:// URL."""
        from twilio.request_validator import RequestValidator

        return {"X-Twilio-Signature": RequestValidator(AUTH_TOKEN).compute_signature(self.url, {})}

    def params(self, index: int, run: int = 0) -> dict:
        """start.customParameters of stream `index` of step `run`."""
        return {"bench": str(index)}

    def pids(self) -> list[int]:
        """The server's processes (a gunicorn master and its workers)."""
        return _procstat.family(self.proc.pid) if self.proc else []

    def stop(self) -> None:
        """Terminate the process group we started; kill it if it lingers."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def _spawn(self, argv: list[str], env: dict | None = None, **kw) -> subprocess.Popen:
        self.proc = subprocess.Popen(
            pinned(argv, self.cpu), cwd=ROOT, env=env, start_new_session=True,
            stdin=subprocess.DEVNULL, **kw,
        )
        return self.proc


class BareRelay(Target):
    name = "bare"
    flags: tuple[str, ...] = ()  # bare_relay.py options (--sink: the fork baseline)

    def start(self) -> None:
        proc = self._spawn([sys.executable, str(ROOT / "bench" / "bare_relay.py"), *self.flags],
                           stdout=subprocess.PIPE, text=True)
        line = proc.stdout.readline()
        if not line.startswith("LISTENING"):
            raise RuntimeError(f"bare relay failed to start: {line!r}")
        self.port = int(line.split()[1])


class GunicornTarget(Target):
    app_spec = "bench.flask_echo:create_app()"

    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
        env.update(PORT=str(self.port), WEB_CONCURRENCY=str(self.workers))
        if self.hook:
            env["BENCH_HOOK"] = self.hook[0]
            env["BENCH_HOOK_DIR"] = str(Path(self.hook[1]).resolve() / self.name)
        return env

    def start(self) -> None:
        self.port = self.port or free_port()
        argv = procfile_command(self.app_spec, self.port, self.workers)
        if self.hook:
            argv[1:1] = ["--config", str(ROOT / "bench" / "_hook_conf.py")]
        with open(self.log, "ab") as log:
            self._spawn(argv, env=self.env(), stdout=log, stderr=subprocess.STDOUT)
        _wait_listening(self.port, self.proc, self.log)


class FlaskEcho(GunicornTarget):
    name = "flask"


class FlaskLean(GunicornTarget):
    name = "lean"
    app_spec = "bench.flask_lean:create_app()"


class Forkline(GunicornTarget):
    name = "forkline"
    app_spec = "app:create_app()"

    def env(self) -> dict:
        env = super().env()
        env.update(
            DATABASE_URL=f"sqlite:///{self.workdir / 'forkline.sqlite'}",
            AI_BACKEND="echo", PUBLIC_URL=f"http://127.0.0.1:{self.port}",
            TWILIO_AUTH_TOKEN=AUTH_TOKEN, TWILIO_ACCOUNT_SID=ACCOUNT_SID,
            FORKLINE_SECRET_KEY=SECRET,
        )
        return env

    def start(self) -> None:
        self.port = free_port()
        env = self.env()
        # The Procfile's release phase, then the tenant and conferences the AI legs belong to.
        subprocess.run([sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"],
                       cwd=ROOT, env=env, check=True, capture_output=True)
        out = subprocess.run([sys.executable, "-m", "bench._seed"], cwd=ROOT, env=env,
                             check=True, capture_output=True, text=True).stdout
        self.tenant_id = int(out.split()[-1])
        super().start()

    def params(self, index: int, run: int = 0) -> dict:
        from bench._loadgen import call_sid
        from conference.twilio.security import make_stream_token

        name = f"bench-{index}"
        claims = {"conference": name, "tenant": self.tenant_id, "kind": "ai", "label": "ai",
                  "call": call_sid(index, run)}  # tokens open only their own call's stream
        return {"conference": name, "tenant": str(self.tenant_id), "agent": "default",
                "mode": "speak", "coach": "", "token": make_stream_token(SECRET, claims)}


TARGETS = {t.name: t for t in (BareRelay, FlaskEcho, FlaskLean, Forkline)}
