"""Fixtures: the simulator as a subprocess, a real twilio SDK client on it, app-side servers."""
from __future__ import annotations

import pytest
from sim_servers import MediaServer, WebhookServer
from twilio.http.http_client import TwilioHttpClient

from twilio_sim.testing import RunningSim, running_sim, sdk_client

SIM_ACCOUNT_SID = "AC" + "5" * 32
SIM_AUTH_TOKEN = "sim-auth-token-for-tests"


SimServer = RunningSim  # base_url, process, account_sid, auth_token, control, client()


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


@pytest.fixture(scope="module")
def sim_server(monkeypatch_module):
    """`python -m twilio_sim --port 0` at real-time speed, one per test module."""
    with running_sim(SIM_ACCOUNT_SID, SIM_AUTH_TOKEN, clock_rate=1.0, allow_ws=True) as server:
        yield server


@pytest.fixture(scope="module")
def fast_sim_server(monkeypatch_module):
    """The simulator with its clock at 5x real time (scenarios)."""
    with running_sim(SIM_ACCOUNT_SID, SIM_AUTH_TOKEN, clock_rate=5.0, allow_ws=True) as server:
        yield server


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
