"""Console test helpers: tenants, users, CSRF tokens, signed-in clients, signed callbacks."""
from __future__ import annotations

import re

from twilio.request_validator import RequestValidator

from console.users import create_user
from models import Tenant, transaction

PUBLIC = "https://forkline.test"
PASSWORD = "correct horse battery staple"
TS = "Wed, 25 Nov 2026 12:00:00 +0000"
CSRF_INPUT = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|'
                        r'name="csrf-token" content="([^"]+)"')


def make_tenant(app, name: str) -> tuple[int, str]:
    """(tenant id, API key) of a new tenant."""
    with app.app_context(), transaction() as session:
        tenant = Tenant(name=name)
        _, key = tenant.issue_api_key()
        session.add(tenant)
    return tenant.id, key


def make_user(app, tenant: str, email: str, role: str) -> None:
    """A console user with PASSWORD."""
    with app.app_context():
        create_user(tenant, email, role, PASSWORD)


def csrf_token(html: str) -> str:
    """The CSRF token a console page embeds."""
    match = CSRF_INPUT.search(html)
    assert match, "page carries no CSRF token"
    return match.group(1) or match.group(2)


def sign_in(client, tenant: str, email: str, password: str = PASSWORD):
    """POST the sign-in form with its CSRF token; returns the response."""
    token = csrf_token(client.get("/console/signin").get_data(as_text=True))
    return client.post("/console/signin", data={"tenant": tenant, "email": email,
                                                "password": password, "csrf_token": token})


class Console:
    """A signed-in test client that sends JSON actions with the page's CSRF token."""

    def __init__(self, client) -> None:
        self.client = client
        self.token = csrf_token(client.get("/console/").get_data(as_text=True))

    def action(self, path: str, body: dict | None = None, token: bool = True):
        headers = {"Accept": "application/json"}
        if token:
            headers["X-CSRFToken"] = self.token
        return self.client.post("/console/conferences/" + path, json=body or {}, headers=headers)


class Twilio:
    """Posts conference status callbacks signed the way Twilio signs them."""

    def __init__(self, client, auth_token: str, room: dict) -> None:
        self.client, self.validator, self.room = client, RequestValidator(auth_token), room
        self.seq = 0

    def conference_event(self, event: str, label: str | None = None, **extra):
        self.seq += 1
        params = {"ConferenceSid": self.room["sid"], "FriendlyName": self.room["friendly"],
                  "StatusCallbackEvent": event, "SequenceNumber": str(self.seq),
                  "Timestamp": TS, "AccountSid": "AC" + "0" * 32}
        if label:
            params.update(CallSid=self.room["calls"][label], ParticipantLabel=label)
        params.update(extra)
        url = PUBLIC + "/twilio/conference-events"
        headers = {"X-Twilio-Signature": self.validator.compute_signature(url, params)}
        response = self.client.post("/twilio/conference-events", data=params, headers=headers)
        assert response.status_code == 204, response.get_data(as_text=True)
        return response
