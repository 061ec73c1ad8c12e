"""Fixtures for the orchestrator tests: a spec-checked fake Twilio, a tenant, signed webhooks."""
from __future__ import annotations

import pytest
from twilio.request_validator import RequestValidator

from models import Tenant, transaction

PUBLIC = "https://forkline.test"


def make_tenant(app, name: str, max_ai_sessions: int = 5, phone_number: str | None = None):
    """Create a tenant; returns (tenant id, plaintext API key)."""
    with app.app_context(), transaction() as session:
        tenant = Tenant(name=name, max_ai_sessions=max_ai_sessions, phone_number=phone_number)
        _, key = tenant.issue_api_key()
        session.add(tenant)
    return tenant.id, key


@pytest.fixture
def new_tenant(app):
    """Factory: another tenant, `new_tenant(name, max_ai_sessions=...)` -> (id, API key)."""
    return lambda name, **fields: make_tenant(app, name, **fields)


@pytest.fixture
def tenant(app):
    """(id, API key) of tenant `acme`, which owns the number +15550001000."""
    return make_tenant(app, "acme", phone_number="+15550001000")


class Api:
    """The test client with a bearer key, speaking JSON."""

    def __init__(self, client, key: str | None) -> None:
        self.client, self.key = client, key

    def _headers(self) -> dict:
        return {"Authorization": f"Bearer {self.key}"} if self.key else {}

    def get(self, path: str):
        return self.client.get("/api" + path, headers=self._headers())

    def post(self, path: str, body=None):
        return self.client.post("/api" + path, json=body, headers=self._headers())

    def put(self, path: str, body=None):
        return self.client.put("/api" + path, json=body, headers=self._headers())

    def patch(self, path: str, body=None):
        return self.client.patch("/api" + path, json=body, headers=self._headers())

    def delete(self, path: str):
        return self.client.delete("/api" + path, headers=self._headers())


@pytest.fixture
def api(twilio_app, tenant):
    """The admin API as tenant `acme`."""
    return Api(twilio_app.test_client(), tenant[1])


class Twilio:
    """Posts signed webhooks the way Twilio does (signature by the real SDK's validator)."""

    def __init__(self, client, auth_token: str) -> None:
        self.client = client
        self.validator = RequestValidator(auth_token)

    def sign(self, url: str, params: dict) -> str:
        """X-Twilio-Signature for a form POST of `params` to `url`."""
        return self.validator.compute_signature(url, params)

    def post(self, path: str, params: dict, base: str = PUBLIC, **kwargs):
        headers = {"X-Twilio-Signature": self.sign(base + path, params),
                   **kwargs.pop("headers", {})}
        return self.client.post(path, data=params, headers=headers, **kwargs)


@pytest.fixture
def twilio(twilio_app):
    """A webhook sender signing with the test auth token for PUBLIC_URL."""
    return Twilio(twilio_app.test_client(), twilio_app.config["TWILIO_AUTH_TOKEN"])


@pytest.fixture
def other_tenant_api(twilio_app):
    """The admin API as a second tenant, `globex`."""
    _, key = make_tenant(twilio_app, "globex")
    return Api(twilio_app.test_client(), key)


@pytest.fixture
def api_as(twilio_app):
    """Build an Api for any bearer key (or none)."""
    return lambda key: Api(twilio_app.test_client(), key)


@pytest.fixture
def room(api, fake_twilio, tenant):
    """A conference with a customer and an agent dialed; returns its facts."""
    r = api.post("/conferences", {"name": "room", "participants": [
        {"to": "+15551110001", "role": "customer", "label": "customer"},
        {"to": "+15551110002", "role": "agent", "label": "agent"}]})
    assert r.status_code == 201, r.json
    fake_twilio.take()
    calls = {p["label"]: p["call_sid"] for p in r.json["participants"]}
    return {"sid": r.json["twilio_sid"], "friendly": f"t{tenant[0]}-room", "calls": calls}


class FakeSide:
    """Mirror a callback a test posts into the fake's own state (what Twilio would know).

    The strict fake (twilio_fake_rules) has join/leave hooks: coaching is refused (errors/13240)
    for a call the fake does not know as connected. On a fake without them this is a no-op.
    """

    def __init__(self, fake) -> None:
        self.fake = fake

    def join(self, call_sid: str) -> None:
        hook = getattr(self.fake, "join", None)
        if hook is not None and call_sid in self.fake.participants:
            hook(call_sid)

    def leave(self, call_sid: str) -> None:
        hook = getattr(self.fake, "leave", None)
        if hook is not None and call_sid in self.fake.participants:
            hook(call_sid)
        else:
            self.fake.participants.pop(call_sid, None)


@pytest.fixture
def fake_side(fake_twilio):
    """A FakeSide for the running fake."""
    return FakeSide(fake_twilio)
