"""Fixtures of the attack suite: a real Forkline (gunicorn+gevent, the Procfile's lines)."""
from __future__ import annotations

import os
import signal

import pytest

from .attack_server import start_forkline


@pytest.fixture(scope="module")
def forkline(tmp_path_factory):
    """A Forkline behind no proxy, with PUBLIC_URL set (production mode)."""
    server = start_forkline(tmp_path_factory.mktemp("forkline"))
    yield server
    os.killpg(server.proc.pid, signal.SIGTERM)
    server.proc.wait(timeout=30)
