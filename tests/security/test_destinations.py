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


def test_dialing_over_the_rate_limit_is_429_with_the_reason(app, key):
    app.config["DIAL_RATE_LIMIT"] = "3 per minute"
    answers = [create(app, key, "+19005550100").status_code for _ in range(3)]
    assert answers == [422] * 3  # refused dials still spend the budget: probing costs too
    r = create(app, key, "+15550000005")
    assert r.status_code == 429 and "dial rate limit" in json.dumps(r.json)
    listing = app.test_client().get("/api/conferences",
                                    headers={"Authorization": f"Bearer {key}"})
    assert listing.status_code == 200  # reads are not dials


def test_each_api_key_has_its_own_dial_budget(app, key):
    app.config["DIAL_RATE_LIMIT"] = "1 per minute"
    with app.app_context(), transaction() as session:
        other = Tenant(name="innocent", max_ai_sessions=1)
        _, other_key = other.issue_api_key()
        session.add(other)
    assert create(app, key, "+19005550100").status_code == 422
    assert create(app, key, "+19005550100").status_code == 429
    assert create(app, other_key, "+19005550100").status_code == 422
