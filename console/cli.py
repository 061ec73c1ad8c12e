"""`flask --app app users create --tenant T --email E --role R` (password from prompt/stdin)."""
from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from console.users import UserError, create_user
from models.user import USER_ROLES

users_cli = AppGroup("users", help="Manage console users.")


def _read_password() -> str:
    # A terminal gets a hidden, confirmed prompt; a pipe gives its first line.
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return sys.stdin.readline().rstrip("\r\n")


@users_cli.command("create")
@click.option("--tenant", required=True, help="Tenant name.")
@click.option("--email", required=True)
@click.option("--role", required=True, type=click.Choice(USER_ROLES))
def users_create(tenant: str, email: str, role: str) -> None:
    """Create a console user; the password is read from a prompt or stdin, never an argument."""
    password = _read_password()
    try:
        user = create_user(tenant, email, role, password)
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"created {user.role} {user.email!r} in tenant {tenant!r}")
