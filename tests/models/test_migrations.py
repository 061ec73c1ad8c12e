"""Alembic migrations build exactly the schema the models declare, on SQLite and PostgreSQL."""
from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import models
from models import migrate


def test_upgrade_from_empty_matches_models(database_url):
    url = database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    migrate.upgrade(url)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            tables = set(sa.inspect(conn).get_table_names())
            assert set(models.Base.metadata.tables) <= tables
            assert "alembic_version" in tables
            context = MigrationContext.configure(conn)
            assert compare_metadata(context, models.Base.metadata) == []
        migrate.downgrade(url, "base")
        with engine.connect() as conn:
            left = set(sa.inspect(conn).get_table_names()) - {"alembic_version"}
            assert left == set()
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
        engine.dispose()


def test_first_revision_is_core():
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
    core = script.get_revision("0001_core")
    assert core.down_revision is None
