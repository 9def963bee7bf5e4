"""``pouch users``: users and their roles, from the command line."""

from __future__ import annotations

import getpass
import sys
from typing import Annotated

import typer
from rich.table import Table

from pouch.cli_support import console, errors, settings_of, sub_app, transaction
from pouch.clock import SystemClock
from pouch.identity.models import Role

users_app = sub_app("Users and their roles.")


def _parse_grant(value: str) -> tuple[Role, str]:
    role_name, sep, office_slug = value.partition("@")
    try:
        role = Role(role_name)
    except ValueError:
        raise typer.BadParameter(
            f"unknown role {role_name!r}; roles: {', '.join(r.value for r in Role)}",
            param_hint="--role",
        ) from None
    if not sep or not office_slug:
        raise typer.BadParameter(
            "give a role as ROLE@OFFICE, e.g. watch_officer@ops", param_hint="--role"
        )
    return role, office_slug


@users_app.command(
    "create",
    epilog="Example: pouch users create ana --display-name 'Ana Duty' --role watch_officer@ops",
)
def users_create(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="Login name: lowercase letters, digits, . _ -")],
    display_name: Annotated[str, typer.Option(help="Name shown in the interface.")],
    email: Annotated[str | None, typer.Option(help="E-mail address for notifications.")] = None,
    role: Annotated[
        list[str] | None, typer.Option(help="A role in an office, as ROLE@OFFICE-SLUG; repeatable.")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option(help="Read the password from standard input instead of prompting.")
    ] = False,
) -> None:
    """Create a user with a password and roles in offices."""
    from pouch.directory import service as directory_service
    from pouch.identity import service as identity_service

    grants = [_parse_grant(value) for value in role or []]
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            errors.print("[red]error:[/red] password: the two entries differ")
            raise typer.Exit(1)
    now = SystemClock().now()
    with transaction(settings_of(ctx)) as session:
        roles = [
            (directory_service.get_office_by_slug(session, office_slug).id, grant_role)
            for grant_role, office_slug in grants
        ]
        user = identity_service.create_user(
            session,
            username=username,
            display_name=display_name,
            password=password,
            email=email,
            roles=roles,
            now=now,
        )
    console.print(f"created user {username!r} (id {user.id})")


@users_app.command("list", epilog="Example: pouch users list")
def users_list(ctx: typer.Context) -> None:
    """List users and their roles."""
    from pouch.directory import service as directory_service
    from pouch.identity import service as identity_service

    table = Table("id", "username", "name", "active", "roles")
    with transaction(settings_of(ctx)) as session:
        offices = {o.id: o.slug for o in directory_service.list_offices(session)}
        for user in identity_service.list_users(session):
            roles = ", ".join(
                f"{m.role.value}@{offices.get(m.office_id)}" for m in user.memberships
            )
            table.add_row(
                str(user.id),
                user.username,
                user.display_name,
                "yes" if user.is_active else "no",
                roles,
            )
    console.print(table)


@users_app.command(
    "reset-password",
    epilog="Example: pouch users reset-password watch1",
)
def users_reset_password(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="The user whose password is reset.")],
) -> None:
    """Start a password reset at the machine (the operator's, for a user without e-mail):
    prints the one-time code to hand to the user in person; the user sets the password
    at /password. Logged as done by the operator; the user's sessions end when they set it."""
    from pouch.identity import service as identity_service

    settings = settings_of(ctx)
    now = SystemClock().now()
    with transaction(settings) as session:
        user = identity_service.get_user_by_username(session, username)
        code = identity_service.start_password_reset(
            session, user_id=user.id, by=None, now=now, base_url=settings.public_url
        )
    console.print(f"one-time code for {username!r} (good for 24 hours): {code}")
    console.print(f"the user sets a password at {settings.public_url.rstrip('/')}/password")
