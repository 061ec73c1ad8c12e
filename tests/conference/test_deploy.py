"""The Procfile's release and web lines, run for real from a venv built from requirements.txt alone.

A Heroku-style build installs only requirements.txt, so the deploy venv is built from that file
(never the dev requirements) and cached under .cache/deploy-venv/<hash of requirements.txt>: the
first run costs a pip install, later runs seconds.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from support.processes import free_port, procfile

ROOT = Path(__file__).resolve().parents[2]


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def deploy_venv() -> Path:
    """A venv holding exactly requirements.txt, built once per version of that file."""
    requirements = ROOT / "requirements.txt"
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()[:16]
    venv = ROOT / ".cache" / "deploy-venv" / digest
    if (venv / ".installed").exists():
        return venv
    shutil.rmtree(venv, ignore_errors=True)
    base_python = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base_python, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "-r", str(requirements)],
                         capture_output=True, text=True, timeout=1200)
    assert pip.returncode == 0, pip.stderr[-4000:]
    (venv / ".installed").touch()
    return venv


@pytest.fixture(scope="session")
def production_bin() -> Path:
    """The bin/ folder of the requirements.txt-only venv."""
    return deploy_venv() / "bin"


@pytest.mark.slow
def test_release_then_web(tmp_path, production_bin):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TWILIO_", "OPENAI_", "VIRTUAL_ENV", "PYTHON"))}
    env.update(PATH=f"{production_bin}:/usr/bin:/bin", PORT=str(free_port()),
               DATABASE_URL=f"sqlite:///{tmp_path / 'deploy.sqlite'}", LOG_LEVEL="WARNING",
               AI_BACKEND="echo", HOME=str(tmp_path / "home"),
               PUBLIC_URL="https://forkline.deploy.test", FORKLINE_SECRET_KEY="deploy-secret",
               XDG_RUNTIME_DIR=str(tmp_path / "run"))
    (tmp_path / "run").mkdir()
    release = subprocess.run(procfile()["release"], shell=True, cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=120)
    assert release.returncode == 0, release.stderr
    log = tmp_path / "web.log"
    with log.open("wb") as sink:
        web = subprocess.Popen(procfile()["web"], shell=True, cwd=ROOT, env=env,
                               stdout=sink, stderr=sink, start_new_session=True)
    base = f"http://127.0.0.1:{env['PORT']}"
    try:
        deadline = time.monotonic() + 60
        while True:  # poll until the worker answers (or the server died)
            assert web.poll() is None, log.read_text()
            try:
                status, _ = get(base + "/healthz")
                break
            except OSError:
                assert time.monotonic() < deadline, "gunicorn did not come up:\n" + log.read_text()
                time.sleep(0.1)
        assert status == 200
        assert get(base + "/readyz")[0] == 200
        status, body = get(base + "/api/openapi.json")
        assert status == 200 and b'"openapi"' in body
        assert get(base + "/api/conferences")[0] == 401
        # The gevent worker really ran (it needs gunicorn's gevent extra: packaging).
        assert b"ModuleNotFoundError" not in log.read_bytes()
        # gunicorn 27's control socket defaults to one per-user path: a second instance on the
        # host would take it over, so the web line turns it off.
        assert list((tmp_path / "run").iterdir()) == [] and not (tmp_path / "home").exists()
    finally:
        os.killpg(web.pid, signal.SIGTERM)
        web.wait(timeout=30)


def test_requirements_pin_the_gevent_extra():
    """The Procfile's worker class needs gunicorn's gevent extra in the production install."""
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    assert any(line.startswith("gunicorn[gevent]==") for line in lines)
    assert "--worker-class gevent" in procfile()["web"]
