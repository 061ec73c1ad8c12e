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


# The trust modes the README's Security section documents, each a real gunicorn (one per
# session): PUBLIC_URL set (production), unset (development), and each behind one trusted
# reverse proxy that appends X-Forwarded-* (Heroku's router; a development tunnel).
MODES = {
    "production": {"public": True, "proxy": None},
    "development": {"public": False, "proxy": None},
    "heroku": {"public": True, "proxy": "forkline.attack.test"},
    "tunnel": {"public": False, "proxy": "tunnel.attack.test"},
}


@pytest.fixture(scope="session")
def attack_twilio():
    """The tests' strict REST fake as the mode servers' Twilio (it records what they send)."""
    from twilio_fake import FakeTwilio

    from .attack_server import ACCOUNT_SID, AUTH_TOKEN

    fake = FakeTwilio(ACCOUNT_SID, AUTH_TOKEN).start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def mode_servers(tmp_path_factory, attack_twilio):
    """Boot each mode's server on first use; all are stopped at the end of the session."""
    from support.reverse_proxy import ReverseProxy

    from .attack_server import PUBLIC

    servers: dict = {}

    def get(mode: str):
        if mode not in servers:
            spec = MODES[mode]
            env = {"TWILIO_API_URL": attack_twilio.url}
            if spec["proxy"]:
                env["TRUSTED_PROXY_COUNT"] = "1"
            server = start_forkline(tmp_path_factory.mktemp(mode),
                                    PUBLIC if spec["public"] else None, **env)
            if spec["proxy"]:
                server.behind(ReverseProxy(server.direct_port, spec["proxy"]))
            server.mode = mode
            servers[mode] = server
        return servers[mode]

    yield get
    for server in servers.values():
        if server.proxy is not None:
            server.proxy.close()
        os.killpg(server.proc.pid, signal.SIGTERM)
        server.proc.wait(timeout=30)


@pytest.fixture(params=list(MODES))
def mode_server(request, mode_servers):
    """The attacked server, once per trust mode."""
    return mode_servers(request.param)
