"""Toll-fraud attempts through the admin API: premium numbers, foreign SIP, other countries."""
from __future__ import annotations

import json

import pytest

from conference.security.destinations import destination_problem
from models import Tenant, transaction


@pytest.fixture
def key(app):
    with app.app_context(), transaction() as session:
        tenant = Tenant(name="fraud", max_ai_sessions=1)
        _, plaintext = tenant.issue_api_key()
        session.add(tenant)
    return plaintext


def create(app, key: str, to: str):
    body = {"name": "room", "participants": [{"to": to, "role": "customer"}]}
    return app.test_client().post("/api/conferences", data=json.dumps(body),
                                  content_type="application/json",
                                  headers={"Authorization": f"Bearer {key}"})


@pytest.mark.parametrize(("to", "reason"), [
    ("+19005550100", "premium"), ("+19765550100", "premium"),
    ("sip:x@evil.example", "not allow-listed"), ("+15550000005\n", "E.164"),
])
def test_fraudulent_destinations_are_422_with_the_reason(app, key, to, reason):
    r = create(app, key, to)
    assert r.status_code == 422 and reason in json.dumps(r.json)


def test_country_codes_and_sip_domains_follow_the_configuration():
    config = {"DIAL_ALLOWED_COUNTRY_CODES": "1,44", "SIP_ALLOWED_DOMAINS": "pbx.example.com"}
    assert destination_problem("+442071234567", config) is None
    assert "country code" in destination_problem("+33123456789", config)
    assert destination_problem("sip:agent@pbx.example.com", config) is None
    assert destination_problem("sip:agent@PBX.example.com:5060", config) is None
    assert "allow-listed" in destination_problem("sip:pbx.example.com@evil.example", config)
    assert destination_problem("client:alice", config) is None
