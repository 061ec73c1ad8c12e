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


def test_real_flask_cli_upgrade_then_create(tmp_path):
    """The exact commands of the README and Procfile, run as a user would."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    flask = [sys.executable, "-m", "flask", "--app", "app"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "OPENAI_"))}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'cli.sqlite'}", LOG_LEVEL="WARNING",
               FORKLINE_ENV="development")  # production would also need PUBLIC_URL etc.
    up = subprocess.run([*flask, "db", "upgrade"], cwd=root, env=env, capture_output=True,
                        text=True, timeout=120)
    assert up.returncode == 0, up.stderr
    made = subprocess.run([*flask, "tenants", "create", "acme"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    key = made.stdout.rstrip("\n").splitlines()[-1]
    assert key.startswith("fk_") and key == key.strip()
    engine = sa.create_engine(env["DATABASE_URL"])
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT key_hash FROM api_key")).scalar_one()
    engine.dispose()
    assert stored == hash_api_key(key)
