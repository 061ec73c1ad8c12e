"""Running the Procfile's lines for real: its commands, and free local ports to bind them to;
Python children of a test (bench runs, drivers) and what they print."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def procfile() -> dict[str, str]:
    """The Procfile's process types and their command lines."""
    lines = (ROOT / "Procfile").read_text().splitlines()
    return {k: v.strip() for k, v in (line.split(":", 1) for line in lines if line.strip())}


def run_python(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """`python *args` in the repository root, its output captured; the test fails unless it
    exits 0 (with the tail of its stderr)."""
    run = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                         timeout=timeout)
    assert run.returncode == 0, run.stderr[-3000:]
    return run


def run_bench(module: str, *args: str, report: Path,
              timeout: float) -> tuple[subprocess.CompletedProcess[str], dict]:
    """`python -m bench.<module> *args --json report`: what it printed, and the report."""
    run = run_python("-m", f"bench.{module}", *args, "--json", str(report), timeout=timeout)
    return run, json.loads(report.read_text())


def last_json_line(run: subprocess.CompletedProcess[str]):
    """The JSON document on the last line a child printed (a driver's report)."""
    return json.loads(run.stdout.strip().splitlines()[-1])


def free_port() -> int:
    """A local TCP port that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children(pid: int) -> list[int]:
    """The direct child processes of `pid` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def accepting_pid(client: socket.socket, pids: list[int]) -> int | None:
    """Which of `pids` holds the server end of the loopback connection `client` (Linux /proc)."""
    port = client.getsockname()[1]
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[2].rpartition(":")[2], 16) == port:  # remote end is our client port
            inode = fields[9]
    if inode is None:
        return None
    for pid in pids:
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                if fd.readlink().name == f"socket:[{inode}]":
                    return pid
            except OSError:
                continue
    return None
