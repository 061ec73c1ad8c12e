"""A tenant's tool-webhook secret: shown once, rotatable, never stored, the tenant's alone."""
from __future__ import annotations

import sqlalchemy as sa

from models import get_session


def test_the_secret_is_shown_once_and_never_stored(twilio_app, api):
    twilio_app.config["TOOL_SIGNING_KEY"] = "tool-key"
    assert api.get("/tool-secret").json == {"issued": False, "rotated_at": None,
                                            "previous_valid_until": None}
    r = api.post("/tool-secret/rotate")
    assert r.status_code == 201 and r.json["secret"].startswith("ftw_")
    secret = r.json["secret"]
    state = api.get("/tool-secret")
    assert state.json["issued"] is True and secret not in state.get_data(as_text=True)
    with twilio_app.app_context():
        row = get_session().execute(sa.text("SELECT * FROM tenant")).mappings().all()
    assert all(secret not in str(value) for r in row for value in r.values())


def test_a_rotation_starts_the_previous_secrets_overlap(twilio_app, api):
    twilio_app.config.update(TOOL_SIGNING_KEY="tool-key", TOOL_SECRET_OVERLAP_S=3600.0)
    first = api.post("/tool-secret/rotate").json
    assert first["previous_valid_until"] is None  # nothing to overlap with yet
    second = api.post("/tool-secret/rotate").json
    assert second["secret"] != first["secret"] and second["previous_valid_until"] is not None


def test_another_tenant_neither_sees_nor_rotates_the_secret(twilio_app, api, other_tenant_api):
    twilio_app.config["TOOL_SIGNING_KEY"] = "tool-key"
    mine = api.post("/tool-secret/rotate").json
    assert other_tenant_api.get("/tool-secret").json["issued"] is False
    theirs = other_tenant_api.post("/tool-secret/rotate").json
    assert theirs["secret"] != mine["secret"]
    # The other tenant's rotation left this tenant's secret alone (no overlap started here).
    assert api.get("/tool-secret").json == {k: v for k, v in mine.items() if k != "secret"}


def test_no_signing_key_configured_is_409(api):
    r = api.post("/tool-secret/rotate")
    assert r.status_code == 409 and r.json["error"]["code"] == "no_tool_signing_key"


def test_unauthenticated_rotation_is_401(api_as):
    assert api_as(None).post("/tool-secret/rotate").status_code == 401


def test_the_cli_prints_the_secret_once_on_the_last_line(twilio_app, tenant, runner):
    twilio_app.config["TOOL_SIGNING_KEY"] = "tool-key"
    out = runner.invoke(args=["tenants", "rotate-tool-secret", "acme"])
    assert out.exit_code == 0, out.output
    secret = out.output.strip().splitlines()[-1]
    assert secret.startswith("ftw_") and out.output.count(secret) == 1
    again = runner.invoke(args=["tenants", "rotate-tool-secret", "acme"]).output
    assert secret not in again and "previous one signs until" in again
