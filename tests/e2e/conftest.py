"""One stack per module: the simulator and Forkline (gunicorn), started by the demo's helpers.

`e2e`: the AI backend is `echo`: it speaks back what it hears, so a tone a phone plays comes
back as the AI's voice, and where that tone is (or is not) heard says who hears the AI.
`strict`: the same, but the simulator refuses ws:// stream URLs (as Twilio does).
`console_stack`: the Procfile's web line with the local agent, and a console supervisor.
`relay_stack`: two such servers sharing PostgreSQL and Redis (only A is Twilio's).
"""
from __future__ import annotations

import random
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.console import PASSWORD
from support.pg import fresh_database

from twilio_sim.testing import SimControl, sdk_client

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
sys.path.insert(0, str(SCRIPTS))  # the demo's modules are scripts, not a package

from demo_api import AdminApi  # noqa: E402
from demo_console import start_console  # noqa: E402
from demo_stack import Stack, free_port  # noqa: E402


@dataclass
class E2E:
    """A running stack: Forkline's admin API, the simulator's /sim API and its REST API."""

    stack: Stack
    api: AdminApi
    sim: SimControl
    client: object  # twilio.rest.Client on the simulator


@contextmanager
def _echo_stack(folder: Path, tenant: str, allow_ws: bool) -> Iterator[E2E]:
    """The simulator, a TwiML App made with the SDK, `tenant` from the CLI, and Forkline under
    gunicorn with the echo AI backend; stopped afterwards, with the tails of both logs."""
    stack = Stack(folder)
    stack.env["AI_BACKEND"] = "echo"
    try:
        sim_url = stack.start_sim(allow_ws=allow_ws)
        port = free_port()
        client = sdk_client(sim_url, stack.account_sid, stack.auth_token)
        app = client.applications.create(friendly_name=f"Forkline {tenant} AI",
                                         voice_url=f"http://127.0.0.1:{port}/twilio/ai/voice",
                                         voice_method="POST")
        stack.flask("db", "upgrade")
        key = stack.flask("tenants", "create", tenant).strip().splitlines()[-1]
        stack.start_forkline(app.sid, port)
        yield E2E(stack, AdminApi(stack.forkline_url, key), SimControl(sim_url), client)
    finally:
        stack.stop()
        for name in ("forkline", "twilio_sim"):
            tail = stack.log_tail(name, 40)
            if tail:
                print(f"--- {name}.log ---\n{tail}")


@pytest.fixture(scope="module")
def e2e(tmp_path_factory):
    """The simulator (--allow-ws), a TwiML App made with the SDK, a tenant from the CLI, and
    Forkline under gunicorn with the echo AI backend."""
    with _echo_stack(tmp_path_factory.mktemp("e2e"), "e2e", allow_ws=True) as stack:
        yield stack


@pytest.fixture(scope="module")
def strict(tmp_path_factory):
    """A simulator without --allow-ws, and Forkline (gunicorn, echo AI) on an http PUBLIC_URL."""
    with _echo_stack(tmp_path_factory.mktemp("strict-ws"), "strict", allow_ws=False) as stack:
        yield stack


def _stop(stack: Stack) -> None:
    stack.stop()
    for name in [*stack.procs, "twilio_sim"]:
        tail = stack.log_tail(name, 40)
        if tail:
            print(f"--- {name}.log ---\n{tail}")


@pytest.fixture(scope="module")
def console_stack(tmp_path_factory):
    """The simulator and the Procfile's gunicorn Forkline with the local (offline) agent."""
    stack = Stack(tmp_path_factory.mktemp("console"), server="procfile")
    stack.env["AI_BACKEND"] = "local"  # PUBLIC_URL is http: the session cookie is not Secure
    try:
        yield start_console(stack, ("forkline",), PASSWORD)
    finally:
        _stop(stack)


@pytest.fixture(scope="module")
def relay_stack(tmp_path_factory, postgres_url):
    """Servers `forkline` (Twilio's: the legs live there) and `forkline-b`, sharing a private
    PostgreSQL database and Redis, as two hosts behind one load balancer would. The database is
    the module's own: every module's stack creates the same tenant and supervisor."""
    if postgres_url is None:
        pytest.skip("needs PostgreSQL: set DATABASE_URL (CI does)")
    with fresh_database("forkline_relay") as database_url:
        stack = Stack(tmp_path_factory.mktemp("relay"), server="procfile",
                      database_url=database_url)
        # A Redis database of its own: sign-in limits and signals of parallel runs stay apart.
        stack.env.update(AI_BACKEND="echo",
                         REDIS_URL=f"redis://127.0.0.1:6379/{random.randint(1, 15)}")
        try:
            yield start_console(stack, ("forkline", "forkline-b"), PASSWORD)
        finally:
            _stop(stack)


@pytest.fixture(scope="module")
def mic_chromium(tmp_path_factory):
    """Debian's chromium whose fake microphone plays a steady tone (support.mic.FREQ)."""
    from support.mic import tone_chromium

    with tone_chromium(tmp_path_factory.mktemp("mic")) as browser:
        yield browser
