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


@pytest.fixture
def live_stream(request):
    """A live echo stream on the attacked server (`forkline` or the test's own) during the test;
    afterwards every frame it sent must have come back and its socket must still be open."""
    from .live_stream import LiveStream, started

    server = request.getfixturevalue(request.param if hasattr(request, "param") else "forkline")
    stream = started(LiveStream(server))
    yield stream
    try:
        stream.check_flowing()
        assert server.healthz() == 200
    finally:
        stream.close()
