"""`python -m twilio_sim` as a process: startup line, credentials from env, clean SIGTERM."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
import requests
from sim_servers import MediaServer, WebhookServer

from twilio_sim.testing import ROOT, running_sim

pytestmark = pytest.mark.slow
SID, TOKEN = "AC" + "3" * 32, "process-token"


def test_missing_credentials_exit_2():
    env = {k: v for k, v in os.environ.items()
           if k not in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN")}
    proc = subprocess.run([sys.executable, "-m", "twilio_sim", "--port", "0"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and "TWILIO_ACCOUNT_SID" in proc.stderr


@pytest.mark.parametrize("host, warns", [("0.0.0.0", True), ("127.0.0.1", False)])
def test_binding_off_loopback_warns_loudly(host, warns):
    env = dict(os.environ, TWILIO_ACCOUNT_SID=SID, TWILIO_AUTH_TOKEN=TOKEN)
    proc = subprocess.Popen([sys.executable, "-m", "twilio_sim", "--host", host, "--port", "0"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert "listening" in proc.stdout.readline()  # printed after any warning
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=30)
    assert ("unauthenticated" in stderr) is warns


def test_sigterm_stops_streams_and_exits_cleanly():
    media, hooks = MediaServer(TOKEN), WebhookServer(TOKEN)
    hooks.routes["/v"] = (f'<Response><Connect><Stream url="{media.url("/x")}"/></Connect>'
                          "</Response>")
    try:
        with running_sim(SID, TOKEN, clock_rate=2.0, allow_ws=True) as sim:
            assert sim.base_url.startswith("http://127.0.0.1:")
            assert requests.get(sim.base_url + "/sim/stats", timeout=5).json()["clock_rate"] == 2.0
            sim.control.inbound_call("+15550500001", "+15550500000", hooks.url("/v"))
            conn = media.connections.wait_for(lambda c: c["path"] == "/x")
            conn["messages"].wait_for(lambda m: m["event"] == "start")
        assert sim.process.returncode == 0
        assert conn["messages"].matching(lambda m: m["event"] == "stop")
    finally:
        media.close()
        hooks.close()
