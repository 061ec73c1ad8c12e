"""The factory: config layering, database URL rules."""
from __future__ import annotations

import pytest

from app import config_from_env, create_app, normalize_database_url


def test_config_passed_in_wins_over_defaults(app):
    assert app.testing
    assert app.config["PLAYOUT_LEAD_MS"] == 300


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres://u:p@h:5432/d", "postgresql+psycopg://u:p@h:5432/d"),
        ("postgresql://u@h/d", "postgresql+psycopg://u@h/d"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_database_url_is_normalized(url, expected):
    assert normalize_database_url(url, "/tmp") == expected


def test_default_database_is_sqlite_under_instance(tmp_path):
    assert normalize_database_url(None, str(tmp_path)) == f"sqlite:///{tmp_path}/forkline.sqlite"


def test_env_is_read_only_for_documented_variables():
    env = {"PORT": "1", "PLAYOUT_LEAD_MS": "250", "FORKLINE_SECRET_KEY": "s", "UNRELATED": "x"}
    assert config_from_env(env) == {"PLAYOUT_LEAD_MS": 250, "SECRET_KEY": "s"}


def test_backend_defaults_to_local_without_openai_key(tmp_path):
    dev = {"ENVIRONMENT": "development"}
    app = create_app({**dev, "DATABASE_URL": f"sqlite:///{tmp_path}/a.db"})
    assert app.config["AI_BACKEND"] == "local"
    app = create_app({**dev, "DATABASE_URL": f"sqlite:///{tmp_path}/b.db",
                      "OPENAI_API_KEY": "sk-x"})
    assert app.config["AI_BACKEND"] == "realtime"


def test_every_operator_setting_can_come_from_the_environment():
    from app import DEFAULTS, ENV_RENAMES, ENV_VARS

    settable = {ENV_RENAMES.get(name, name) for name in ENV_VARS}
    assert set(DEFAULTS) - settable == set()
    assert config_from_env({"STREAM_TOKEN_TTL_S": "30"}) == {"STREAM_TOKEN_TTL_S": 30.0}


def test_cpu_pool_settings_come_from_the_environment():
    env = {"CPU_POOL_WORKERS": "2", "CPU_POOL_MAX_PENDING": "16"}
    assert config_from_env(env) == {"CPU_POOL_WORKERS": 2, "CPU_POOL_MAX_PENDING": 16}
