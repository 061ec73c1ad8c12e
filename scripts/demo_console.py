"""A console-ready stack: the simulator, a TwiML App, a tenant, a supervisor and N servers.

Shared by the console's end-to-end tests and `bench/console_browser_listen.py`. Every server
gets the same environment (database, Redis); the TwiML App's AI Voice URL is the first one's,
so the simulator (Twilio) only ever talks to that server.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from demo_api import AdminApi
from demo_stack import Stack, free_port

from twilio_sim.testing import SimControl, sdk_client

TENANT, EMAIL = "e2e", "sup@e2e.test"


@dataclass
class ConsoleStack:
    """A running stack with a console supervisor; `servers`: the URL of each Forkline."""

    stack: Stack
    api: AdminApi
    sim: SimControl
    client: object
    servers: dict[str, str] = field(default_factory=dict)


def start_console(stack: Stack, servers: tuple[str, ...], password: str,
                  boot_timeout_s: float = 120.0) -> ConsoleStack:
    """Start the simulator and `servers` (names; the first is Twilio's) with a supervisor."""
    sim_url = stack.start_sim()
    ports = {name: free_port() for name in servers}
    client = sdk_client(sim_url, stack.account_sid, stack.auth_token)
    app = client.applications.create(
        friendly_name="Forkline console", voice_method="POST",
        voice_url=f"http://127.0.0.1:{ports[servers[0]]}/twilio/ai/voice")
    stack.flask("db", "upgrade")
    key = stack.flask("tenants", "create", TENANT).strip().splitlines()[-1]
    stack.flask("users", "create", "--tenant", TENANT, "--email", EMAIL, "--role", "supervisor",
                stdin=password + "\n")
    # A shared two-core machine: a cold gunicorn worker may take most of a minute to boot.
    urls = {name: stack.start_forkline(app.sid, port, timeout_s=boot_timeout_s, name=name)
            for name, port in ports.items()}
    return ConsoleStack(stack, AdminApi(urls[servers[0]], key), SimControl(sim_url), client,
                        urls)
