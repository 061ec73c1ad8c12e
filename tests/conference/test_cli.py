"""Flask CLI: tenants create prints the key alone on the last line; db upgrade migrates."""
from __future__ import annotations

import sqlalchemy as sa

from models import ApiKey, Tenant, get_session
from models.tenant import hash_api_key


def test_tenants_create_prints_key_last(app, runner):
    result = runner.invoke(args=["tenants", "create", "acme", "--max-ai-sessions", "2"])
    assert result.exit_code == 0, result.output
    key = result.output.strip().splitlines()[-1]
    assert key.startswith("fk_") and " " not in key
    with app.app_context():
        tenant = get_session().scalar(sa.select(Tenant).where(Tenant.name == "acme"))
        assert tenant.max_ai_sessions == 2
        stored = get_session().scalar(sa.select(ApiKey).where(ApiKey.tenant_id == tenant.id))
        assert stored.key_hash == hash_api_key(key)
        assert key not in (stored.key_hash, stored.prefix)


def test_tenants_create_rejects_duplicate(runner):
    assert runner.invoke(args=["tenants", "create", "acme"]).exit_code == 0
    result = runner.invoke(args=["tenants", "create", "acme"])
    assert result.exit_code != 0
    assert "already exists" in result.output


def test_rotate_key_revokes_old(app, runner):
    first = runner.invoke(args=["tenants", "create", "acme"]).output.strip().splitlines()[-1]
    result = runner.invoke(args=["tenants", "rotate-key", "acme"])
    second = result.output.strip().splitlines()[-1]
    assert second != first
    with app.app_context():
        keys = get_session().scalars(sa.select(ApiKey).order_by(ApiKey.id)).all()
        assert [k.revoked_at is not None for k in keys] == [True, False]


def test_db_upgrade_creates_schema(tmp_path, app_config):
    from app import create_app

    url = f"sqlite:///{tmp_path / 'fresh.sqlite'}"
    fresh = create_app({**app_config, "DATABASE_URL": url})
    result = fresh.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    engine = sa.create_engine(url)
    assert {"tenant", "conference", "participant"} <= set(sa.inspect(engine).get_table_names())
    engine.dispose()
    fresh.extensions["db_engine"].dispose()
