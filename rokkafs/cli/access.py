"""``user``, ``key`` and ``member``: access to the embedded store."""

from __future__ import annotations

import click

from rokkafs.cli.base import Context, cli, registry


@cli.group()
def user() -> None:
    """Users (of the embedded store)."""


@user.command("create")
@click.argument("email")
@click.option("--superuser", is_flag=True, help="A user who sees and may do everything.")
@click.pass_obj
def user_create(obj: Context, email: str, superuser: bool) -> None:
    """Create a user with a first API key (printed once)."""
    created, key = registry(obj).create_user(email, superuser=superuser)
    click.echo(f"user {created.id}\napi key {key}")


@cli.group()
def key() -> None:
    """API keys of a user."""


@key.command("create")
@click.argument("user_id")
@click.option("--comment", default="", help="What the key is for.")
@click.pass_obj
def key_create(obj: Context, user_id: str, comment: str) -> None:
    """Add an API key (at most 5 per user); it is printed once."""
    info, secret = registry(obj).create_key(user_id, comment)
    click.echo(f"key {info.id}\napi key {secret}")


@key.command("list")
@click.argument("user_id")
@click.pass_obj
def key_list(obj: Context, user_id: str) -> None:
    """List a user's keys (ids, never the keys)."""
    for info in registry(obj).list_keys(user_id):
        accessed = info.accessed.isoformat() if info.accessed else "never"
        click.echo(
            f"{info.id}  created {info.created.isoformat()}  used {accessed}  {info.comment}"
        )


@key.command("revoke")
@click.argument("user_id")
@click.argument("key_id")
@click.pass_obj
def key_revoke(obj: Context, user_id: str, key_id: str) -> None:
    """Revoke one of a user's keys."""
    registry(obj).revoke_key(user_id, key_id)
    click.echo(f"revoked {key_id}")


@cli.group()
def member() -> None:
    """Memberships: who may do what in an organization."""


@member.command("add")
@click.argument("organization")
@click.argument("user_id")
@click.argument("roles", nargs=-1, required=True)
@click.pass_obj
def member_add(obj: Context, organization: str, user_id: str, roles: tuple[str, ...]) -> None:
    """Give USER_ID ROLES in ORGANIZATION (read, write, upload, admin, sourceimages:…)."""
    with obj.store() as store:
        store.get_organization(organization)
    membership, _ = registry(obj).set_membership(organization, user_id, list(roles))
    click.echo(f"{membership.email} in {organization}: {', '.join(membership.roles)}")


@member.command("remove")
@click.argument("organization")
@click.argument("user_id")
@click.pass_obj
def member_remove(obj: Context, organization: str, user_id: str) -> None:
    """Remove a membership (the last admin stays)."""
    registry(obj).remove_membership(organization, user_id)
    click.echo(f"removed {user_id} from {organization}")


@member.command("list")
@click.argument("organization")
@click.pass_obj
def member_list(obj: Context, organization: str) -> None:
    """List the members of ORGANIZATION."""
    for membership in registry(obj).memberships(organization):
        click.echo(f"{membership.user_id}  {membership.email}  {', '.join(membership.roles)}")
