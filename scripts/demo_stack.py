"""Start and stop the demo's processes: the Twilio simulator and the Forkline server.

Each child runs in its own session (so a terminal Ctrl-C reaches only the demo, which then stops
them in order) and asks the kernel to SIGTERM it if the demo itself dies, so nothing is orphaned.
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
PR_SET_PDEATHSIG = 1
# Variables of the caller's shell that would point the demo at real services.
SCRUBBED = ("TWILIO_", "OPENAI_", "DATABASE_URL", "REDIS_URL", "AI_BACKEND", "PUBLIC_URL", "PORT",
            "FORKLINE_", "RECORDINGS_DIR", "WEB_CONCURRENCY", "FLASK_")
_LISTENING = re.compile(r"twilio_sim listening on (http://\S+)")


def free_port() -> int:
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Stack:
    """The simulator and the server, their environment, logs and shutdown."""

    def __init__(self, workdir: Path, clock_rate: float = 1.0, server: str = "gunicorn",
                 database_url: str | None = None) -> None:
        self.workdir = workdir
        self.clock_rate = clock_rate
        self.server_kind = server if server == "python" or _has_gunicorn() else "python"
        self.account_sid = "AC" + secrets.token_hex(16)
        self.auth_token = secrets.token_hex(16)
        self.procs: dict[str, subprocess.Popen] = {}
        self.sim_url = self.forkline_url = ""
        self.recordings_dir = workdir / "recordings"
        self.env = self._base_env()
        if database_url:
            self.env["DATABASE_URL"] = database_url

    def _base_env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED)}
        env.update(TWILIO_ACCOUNT_SID=self.account_sid, TWILIO_AUTH_TOKEN=self.auth_token,
                   PYTHONUNBUFFERED="1", AI_BACKEND="local", LOG_LEVEL="WARNING",
                   DATABASE_URL="sqlite:///" + str(self.workdir / "forkline.sqlite"),
                   RECORDINGS_DIR=str(self.recordings_dir), TWILIO_CALLER_ID="+15550009999",
                   # A local stack: the flask CLI runs without PUBLIC_URL; one key for all.
                   FORKLINE_ENV="development", FORKLINE_SECRET_KEY=os.urandom(32).hex())
        return env

    def _spawn(self, name: str, argv: list[str], env: dict, stdout=None) -> subprocess.Popen:
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 (closed with the process)
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=stdout or log, stderr=log,
                                start_new_session=True, preexec_fn=_die_with_parent)
        log.close()  # the child holds its own copy
        self.procs[name] = proc
        return proc

    def start_sim(self, timeout_s: float = 20.0, allow_ws: bool = True) -> str:
        """`python -m twilio_sim --port 0`; returns its base URL once it listens.

        `allow_ws`: the development flag a local (plain http) stack needs; without it the
        simulator refuses ws:// stream URLs as Twilio does (31922)."""
        proc = self._spawn("twilio_sim", [
            sys.executable, "-m", "twilio_sim", "--port", "0",
            "--clock-rate", str(self.clock_rate), "--log-level", "WARNING",
            *(["--allow-ws"] if allow_ws else []),
        ], self.env, stdout=subprocess.PIPE)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            line = proc.stdout.readline().decode(errors="replace")
            match = _LISTENING.search(line)
            if match:
                self.sim_url = match.group(1)
                # Keep draining its stdout so a chatty simulator can never block on the pipe.
                threading.Thread(target=_drain, args=(proc.stdout,), daemon=True).start()
                return self.sim_url
            if not line and proc.poll() is not None:
                break
        raise RuntimeError(f"the simulator did not start; see {self.workdir / 'twilio_sim.log'}")

    def flask(self, *args: str, stdin: str | None = None) -> str:
        """Run `flask --app app ARGS` against the demo database; returns its stdout."""
        result = subprocess.run([sys.executable, "-m", "flask", "--app", "app", *args], cwd=ROOT,
                                env=self.env, capture_output=True, text=True, timeout=120,
                                input=stdin)
        if result.returncode != 0:
            raise RuntimeError(f"flask {' '.join(args)} failed:\n{result.stderr[-2000:]}")
        return result.stdout

    def start_forkline(self, app_sid: str, port: int, timeout_s: float = 30.0,
                       name: str = "forkline") -> str:
        """The Procfile's web process (gunicorn, gevent worker), or `python app.py`.

        A second server (another `name`) shares the database and Redis of the first."""
        url = f"http://127.0.0.1:{port}"
        if name == "forkline":
            self.forkline_url = url
        env = dict(self.env, PORT=str(port), PUBLIC_URL=url,
                   FORKLINE_SECRET_KEY=self.env.get("FORKLINE_SECRET_KEY") or os.urandom(32).hex(),
                   TWILIO_API_URL=self.sim_url, TWILIO_TWIML_APP_SID=app_sid)
        if self.server_kind == "procfile":  # the deployed command line itself
            env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
            argv = ["/bin/sh", "-c", procfile_web()]
        elif self.server_kind == "gunicorn":
            argv = [sys.executable, "-m", "gunicorn", "--worker-class", "gevent", "--workers", "1",
                    "--bind", f"127.0.0.1:{port}", "--graceful-timeout", "3",
                    # gunicorn 27's default control socket is one shared path under ~/.gunicorn.
                    "--control-socket", str(self.workdir / f"{name}.ctl"),
                    "--error-logfile", "-", "app:create_app()"]
        else:
            argv = [sys.executable, "app.py"]
        proc = self._spawn(name, argv, env)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            with contextlib.suppress(requests.RequestException):
                if requests.get(url + "/readyz", timeout=1).ok:
                    return url
            time.sleep(0.1)
        raise RuntimeError(f"Forkline did not become ready; see {self.workdir / name}.log")

    def alive(self) -> list[str]:
        """Names of children that are still running."""
        return [name for name, proc in self.procs.items() if proc.poll() is None]

    def stop(self, timeout_s: float = 8.0) -> None:
        """SIGTERM each child's process group, then SIGKILL what is left; idempotent."""
        servers = [name for name in self.procs if name != "twilio_sim"]
        for name in [*servers, "twilio_sim"]:  # the servers first, then their Twilio
            proc = self.procs.get(name)
            if proc is None:
                continue
            _signal_group(proc, signal.SIGTERM)
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait()
            # Workers of the group (gunicorn's) may outlive a master killed hard.
            _signal_group(proc, signal.SIGKILL)
            if proc.stdout:
                proc.stdout.close()

    def log_tail(self, name: str, lines: int = 25) -> str:
        """The last lines of a child's log."""
        path = self.workdir / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def procfile_web() -> str:
    """The Procfile's `web:` command line."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        kind, _, command = line.partition(":")
        if kind.strip() == "web":
            return command.strip()
    raise RuntimeError("the Procfile has no web process")


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    # start_new_session made the child the leader of a group whose id is its pid.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def _drain(stream) -> None:
    with contextlib.suppress(ValueError, OSError):
        for _line in stream:
            pass


def _has_gunicorn() -> bool:
    try:
        import gevent  # noqa: F401
        import gunicorn  # noqa: F401
    except ImportError:
        return False
    return True
