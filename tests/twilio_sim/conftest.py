"""Fixtures: the simulator as a subprocess, a real twilio SDK client on it, app-side servers."""
from __future__ import annotations

from dataclasses import dataclass

import pytest
from sim_servers import MediaServer, WebhookServer
from twilio.http.http_client import TwilioHttpClient

from twilio_sim.testing import SimControl, sdk_client, start_sim_subprocess, stop_sim

SIM_ACCOUNT_SID = "AC" + "5" * 32
SIM_AUTH_TOKEN = "sim-auth-token-for-tests"


@dataclass
class SimServer:
    """A running simulator: base URL, credentials, control client."""

    base_url: str
    process: object
    account_sid: str
    auth_token: str
    control: SimControl


class RecordingHttpClient(TwilioHttpClient):
    """The SDK's own HTTP client, keeping every (method, url, status, body) it saw."""

    def __init__(self):
        super().__init__()
        self.exchanges: list[tuple[str, str, int, str]] = []

    def request(self, method, url, *args, **kwargs):
        """Send as usual and record the exchange."""
        response = super().request(method, url, *args, **kwargs)
        self.exchanges.append((method.upper(), url, response.status_code, response.text))
        return response


def _start(rate: float) -> SimServer:
    base, proc = start_sim_subprocess(SIM_ACCOUNT_SID, SIM_AUTH_TOKEN, clock_rate=rate)
    return SimServer(base, proc, SIM_ACCOUNT_SID, SIM_AUTH_TOKEN, SimControl(base))


@pytest.fixture(scope="module")
def sim_server(monkeypatch_module):
    """`python -m twilio_sim --port 0` at real-time speed, one per test module."""
    server = _start(1.0)
    yield server
    stop_sim(server.process)


@pytest.fixture(scope="module")
def fast_sim_server(monkeypatch_module):
    """The simulator with its clock at 5x real time (scenarios)."""
    server = _start(5.0)
    yield server
    stop_sim(server.process)


@pytest.fixture(scope="module")
def monkeypatch_module():
    """Module-scoped monkeypatch: TWILIO_REGION/TWILIO_EDGE would rewrite the SDK's host."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("TWILIO_REGION", raising=False)
        mp.delenv("TWILIO_EDGE", raising=False)
        yield mp


@pytest.fixture
def twilio_client(sim_server):
    """A real twilio.rest.Client on the simulator, recording its exchanges."""
    client = sdk_client(sim_server.base_url, sim_server.account_sid, sim_server.auth_token)
    client.http_client = RecordingHttpClient()
    return client


@pytest.fixture
def webhooks():
    """An HTTP server for voice URLs and status callbacks."""
    server = WebhookServer(SIM_AUTH_TOKEN)
    yield server
    server.close()


@pytest.fixture
def media_server():
    """A Media Streams WebSocket server."""
    server = MediaServer(SIM_AUTH_TOKEN)
    yield server
    server.close()
