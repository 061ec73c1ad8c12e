"""Console fixtures: a fake Twilio behind the gateway, tenants with users, signed-in clients."""
from __future__ import annotations

import threading

import pytest
from support.console import Console, Twilio, make_tenant, make_user, sign_in
from werkzeug.serving import make_server


@pytest.fixture
def tenants(twilio_app):
    """acme (admin + supervisor) and globex (admin): name -> (id, API key)."""
    ids = {name: make_tenant(twilio_app, name) for name in ("acme", "globex")}
    make_user(twilio_app, "acme", "boss@acme.test", "admin")
    make_user(twilio_app, "acme", "sup@acme.test", "supervisor")
    make_user(twilio_app, "globex", "boss@globex.test", "admin")
    return ids


@pytest.fixture
def console_as(twilio_app, tenants):
    """Sign in as (tenant, email) and return a Console."""
    def make(tenant: str, email: str) -> Console:
        client = twilio_app.test_client()
        assert sign_in(client, tenant, email).status_code == 302
        return Console(client)
    return make


@pytest.fixture
def room(twilio_app, tenants, fake_twilio):
    """acme's conference `room` with a customer and an agent dialed (through the admin API)."""
    client = twilio_app.test_client()
    r = client.post("/api/conferences", headers={"Authorization": f"Bearer {tenants['acme'][1]}"},
                    json={"name": "room", "participants": [
                        {"to": "+15551110001", "role": "customer", "label": "customer"},
                        {"to": "+15551110002", "role": "agent", "label": "agent"}]})
    assert r.status_code == 201, r.json
    fake_twilio.take()
    calls = {p["label"]: p["call_sid"] for p in r.json["participants"]}
    return {"sid": r.json["twilio_sid"], "friendly": f"t{tenants['acme'][0]}-room",
            "calls": calls}


@pytest.fixture
def twilio(twilio_app, room):
    """Signed status callbacks for `room`."""
    return Twilio(twilio_app.test_client(), twilio_app.config["TWILIO_AUTH_TOKEN"], room)


@pytest.fixture
def app_config(app_config):
    """Live views poll fast and streams end soon, so a missed change fails instead of hanging."""
    return dict(app_config, CONSOLE_SSE_POLL_S=0.05, CONSOLE_SSE_MAX_S=10.0)


@pytest.fixture
def server(twilio_app):
    """The console app on a threaded werkzeug server (real WebSocket upgrades); its port."""
    httpd = make_server("127.0.0.1", 0, twilio_app, threaded=True)
    # shutdown() waits for the serve loop's next poll: 0.5 s by default, per test.
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.01},
                              daemon=True)
    thread.start()
    yield httpd.server_port
    httpd.shutdown()
    thread.join(10)
