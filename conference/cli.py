"""Flask CLI: `flask --app app db upgrade` and `flask --app app tenants create NAME`."""
from __future__ import annotations

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import AppGroup

from models import Tenant, get_session, migrate, transaction

db_cli = AppGroup("db", help="Database migrations.")
tenants_cli = AppGroup("tenants", help="Manage tenants and their API keys.")


@db_cli.command("upgrade")
@click.argument("revision", default="heads")
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: all heads)."""
    migrate.upgrade(current_app.config["DATABASE_URL"], revision)
    click.echo(f"database upgraded to {revision}")


@db_cli.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION."""
    migrate.downgrade(current_app.config["DATABASE_URL"], revision)
    click.echo(f"database downgraded to {revision}")


@tenants_cli.command("create")
@click.argument("name")
@click.option("--max-ai-sessions", default=5, show_default=True, type=click.IntRange(min=0))
@click.option("--recording/--no-recording", default=False, show_default=True)
@click.option("--phone-number", default=None, help="Twilio number whose inbound calls it owns.")
def tenants_create(name: str, max_ai_sessions: int, recording: bool, phone_number: str | None):
    """Create tenant NAME and print its API key alone on the last line."""
    with transaction() as session:
        if session.scalar(sa.select(Tenant).where(Tenant.name == name)) is not None:
            raise click.ClickException(f"tenant {name!r} already exists")
        tenant = Tenant(
            name=name,
            max_ai_sessions=max_ai_sessions,
            recording_enabled=recording,
            phone_number=phone_number,
        )
        _, plaintext = tenant.issue_api_key()
        session.add(tenant)
    click.echo(f"created tenant {name!r} (id {tenant.id}); API key:")
    click.echo(plaintext)


@tenants_cli.command("rotate-key")
@click.argument("name")
def tenants_rotate_key(name: str) -> None:
    """Revoke NAME's keys, issue a new one and print it alone on the last line."""
    from models.times import utcnow

    with transaction() as session:
        tenant = session.scalar(sa.select(Tenant).where(Tenant.name == name))
        if tenant is None:
            raise click.ClickException(f"no tenant {name!r}")
        for key in tenant.api_keys:
            key.revoked_at = key.revoked_at or utcnow()
        _, plaintext = tenant.issue_api_key()
    click.echo(f"rotated the key of tenant {name!r}:")
    click.echo(plaintext)


@tenants_cli.command("rotate-tool-secret")
@click.argument("name")
def tenants_rotate_tool_secret(name: str) -> None:
    """Issue NAME's tool-webhook secret (the previous overlaps); print it alone on the last line."""
    from conference.service import tool_secrets
    from conference.service.errors import ServiceError

    tenant = get_session().scalar(sa.select(Tenant).where(Tenant.name == name))
    if tenant is None:
        raise click.ClickException(f"no tenant {name!r}")
    try:
        issued = tool_secrets.rotate(tenant.id, current_app.config)
    except ServiceError as exc:
        raise click.ClickException(exc.message) from exc
    until = issued["previous_valid_until"]
    click.echo(f"new tool-webhook secret of tenant {name!r} (shown once"
               + (f"; the previous one signs until {until}" if until else "") + "):")
    click.echo(issued["secret"])


def init_app(app: Flask) -> None:
    """Register the CLI groups."""
    app.cli.add_command(db_cli)
    app.cli.add_command(tenants_cli)
