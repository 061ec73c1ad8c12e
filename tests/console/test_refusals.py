"""Every console endpoint refuses: signed-out (redirect / 401), other tenant (404),
supervisor doing an admin action (403), missing CSRF token (400); /api and /twilio unaffected."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from models import Conference, get_session

PAGES = ["/console/", "/console/ended", "/console/users", "/console/conferences/room",
         "/console/conferences/room/recordings/mix.wav"]
STREAMS = ["/console/board/events", "/console/conferences/room/events"]
ACTIONS = ["room/ai/mode", "room/ai", "room/ai/remove", "room/participants",
           "room/participants/agent/remove", "room/supervisors",
           "room/supervisors/supervisor-1/mode", "room/end"]


@pytest.mark.parametrize("path", PAGES)
def test_signed_out_page_redirects_to_sign_in(twilio_app, room, path):
    response = twilio_app.test_client().get(path)
    assert response.status_code == 302
    assert response.location.startswith("/console/signin?next=")


@pytest.mark.parametrize("path", STREAMS)
def test_signed_out_event_stream_is_401(twilio_app, room, path):
    response = twilio_app.test_client().get(path, headers={"Accept": "text/event-stream"})
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"


def test_signed_out_xhr_is_401(twilio_app, room):
    client = twilio_app.test_client()
    assert client.post("/console/conferences/room/end", json={}).status_code == 401
    page = client.get("/console/", headers={"Accept": "application/json"})
    assert page.status_code == 401 and page.json["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("path", ACTIONS)
def test_action_without_csrf_token_is_400_and_changes_nothing(twilio_app, room, console_as,
                                                             fake_twilio, path):
    console = console_as("acme", "boss@acme.test")
    response = console.action(path, {"mode": "listen"}, token=False)
    assert response.status_code == 400
    assert response.json["error"]["code"] == "csrf_failed"
    assert fake_twilio.take() == []
    with twilio_app.app_context():
        assert get_session().scalar(sa.select(Conference.status)) == "pending"


def test_other_tenants_conference_is_404_everywhere(twilio_app, room, console_as, fake_twilio):
    console = console_as("globex", "boss@globex.test")
    client = console.client
    assert client.get("/console/conferences/room").status_code == 404
    assert client.get("/console/conferences/room/events",
                      headers={"Accept": "text/event-stream"}).status_code == 404
    assert client.get("/console/conferences/room/recordings/mix.wav").status_code == 404
    for path in ACTIONS:
        response = console.action(path, {"mode": "listen", "to": "+15550001111",
                                         "role": "agent", "label": "x", "agent": "default"})
        assert response.status_code == 404, (path, response.json)
        assert response.json["error"]["code"] == "not_found"
    assert "room" not in client.get("/console/").get_data(as_text=True)
    assert fake_twilio.take() == []


@pytest.mark.parametrize("path", ["room/ai", "room/ai/remove", "room/participants",
                                  "room/participants/agent/remove"])
def test_supervisor_admin_action_is_403(twilio_app, room, console_as, fake_twilio, path):
    console = console_as("acme", "sup@acme.test")
    response = console.action(path, {"agent": "default", "mode": "speak", "to": "+15550001111",
                                     "role": "agent", "label": "x"})
    assert response.status_code == 403
    assert "admin role" in response.json["error"]["message"]
    assert fake_twilio.take() == []


def test_supervisor_cannot_manage_users(console_as):
    console = console_as("acme", "sup@acme.test")
    assert console.client.get("/console/users").status_code == 403
    assert console.client.post("/console/users", data={
        "csrf_token": console.token, "email": "x@acme.test", "role": "admin",
        "password": "long enough password"}).status_code == 403


def test_api_and_webhooks_need_no_csrf(twilio_app, tenants, room, twilio):
    # `room` was created through /api and `twilio` posts signed webhooks: neither carries a
    # CSRF token. A bearer-authenticated write still works after the console is installed.
    twilio.conference_event("conference-start")
    response = twilio_app.test_client().post(
        "/api/conferences/room/end", headers={"Authorization": f"Bearer {tenants['acme'][1]}"})
    assert response.status_code == 200 and response.json["status"] == "completed"
