"""One stack per module: the simulator and Forkline (gunicorn), started by the demo's helpers.

The AI backend is `echo`: it speaks back what it hears, so a tone a phone plays comes back as
the AI's voice, and where that tone is (or is not) heard says who hears the AI.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from twilio_sim.testing import SimControl, sdk_client

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
sys.path.insert(0, str(SCRIPTS))  # the demo's modules are scripts, not a package

from demo_api import AdminApi  # noqa: E402
from demo_stack import Stack, free_port  # noqa: E402


@dataclass
class E2E:
    """A running stack: Forkline's admin API, the simulator's /sim API and its REST API."""

    stack: Stack
    api: AdminApi
    sim: SimControl
    client: object  # twilio.rest.Client on the simulator


@pytest.fixture(scope="module")
def e2e(tmp_path_factory):
    """The simulator (--allow-ws), a TwiML App made with the SDK, a tenant from the CLI, and
    Forkline under gunicorn with the echo AI backend."""
    stack = Stack(tmp_path_factory.mktemp("e2e"))
    stack.env["AI_BACKEND"] = "echo"
    try:
        sim_url = stack.start_sim()
        port = free_port()
        client = sdk_client(sim_url, stack.account_sid, stack.auth_token)
        app = client.applications.create(friendly_name="Forkline e2e AI",
                                         voice_url=f"http://127.0.0.1:{port}/twilio/ai/voice",
                                         voice_method="POST")
        stack.flask("db", "upgrade")
        key = stack.flask("tenants", "create", "e2e").strip().splitlines()[-1]
        stack.start_forkline(app.sid, port)
        yield E2E(stack, AdminApi(stack.forkline_url, key), SimControl(sim_url), client)
    finally:
        stack.stop()
        for name in ("forkline", "twilio_sim"):
            tail = stack.log_tail(name, 40)
            if tail:
                print(f"--- {name}.log ---\n{tail}")
