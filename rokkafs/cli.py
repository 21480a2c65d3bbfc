"""The ``rokkafs`` command line.

Exit codes: 0 success, 1 a rokkafs error (one line on stderr; ``--debug`` shows the
traceback), 2 a usage error, 3 a consistency check that found problems.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
import platformdirs

from rokkafs.errors import RokkaFSError
from rokkafs.metadata import compute_hash
from rokkafs.search import parse_search
from rokkafs.store.base import Store

if TYPE_CHECKING:
    from rokkafs.access.registry import AccessRegistry
from rokkafs.store.blobs import sha1_file
from rokkafs.store.local import LocalStore
from rokkafs.wire import source_image_to_rokka

__all__ = ["main"]

EXIT_ERROR = 1
EXIT_CHECK_FAILED = 3


def default_data_dir() -> Path:
    """The platform's user data directory for rokkafs."""
    return Path(platformdirs.user_data_dir("rokkafs"))


class _Context:
    def __init__(self, data: Path) -> None:
        self.data = data

    def store(self) -> LocalStore:
        return LocalStore(self.data)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--data",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="ROKKAFS_DATA",
    default=default_data_dir,
    show_default="the platform's user data directory",
    help="Data directory of the embedded store (env ROKKAFS_DATA).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks of errors.")
@click.pass_context
def cli(ctx: click.Context, data: Path, debug: bool) -> None:
    """rokkafs: a rokka-compatible source image store.

    \b
    Examples:
      rokkafs --data ./rokkafs-data info
      rokkafs --data ./rokkafs-data org create demo
      rokkafs --data ./rokkafs-data upload demo photos/*.jpg
      rokkafs hash photos/cat.jpg
    """
    ctx.obj = _Context(data)
    ctx.meta["debug"] = debug


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=int, help="Port to listen on.")
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--remote", metavar="URL", help="Serve a remote rokka-compatible API instead.")
@click.option("--api-key", envvar="ROKKAFS_API_KEY", help="API key for --remote.")
@click.pass_obj
def serve(
    obj: _Context,
    host: str,
    port: int,
    tls_cert: Path | None,
    tls_key: Path | None,
    remote: str | None,
    api_key: str | None,
) -> None:
    """Serve rokka's REST API on the embedded store (or, with --remote, on a remote one).

    On first start an admin API key is created, written to DATA/admin-api-key (mode 0600)
    and printed; send it as the Api-Key header.

    \b
    Examples:
      rokkafs --data ./rokkafs-data serve --port 8080
      rokkafs --data ./proxy serve --remote https://api.rokka.io --api-key "$KEY"
    """
    from rokkafs.adminkey import ADMIN_KEY_FILE, ensure_admin_key
    from rokkafs.server import make_server

    key, created = ensure_admin_key(obj.data)
    if created:
        click.echo(f"created the admin API key {key}")
        click.echo(f"(saved in {obj.data / ADMIN_KEY_FILE}, mode 0600)")
    store = obj.store() if remote is None else _remote_store(obj, remote, api_key)
    from rokkafs.access.registry import AccessRegistry

    registry = AccessRegistry(obj.data)
    if created or not registry.has_users():  # the administrator, keyed by the key file
        registry.create_user("admin", superuser=True, key=key)
    server = make_server(
        store,
        lambda: [],
        host=host,
        port=port,
        tls_cert=tls_cert,
        tls_key=tls_key,
        data_dir=obj.data,
        registry=registry,
    )
    scheme = "https" if tls_cert else "http"
    click.echo(f"rokkafs serves the REST API at {scheme}://{host}:{port}/ (data: {obj.data})")
    click.echo(f"and WebDAV at {scheme}://{host}:{port}/dav/ (user: anything, password: API key)")
    try:
        server.safe_start()
    finally:
        store.close()


def _remote_store(obj: _Context, url: str, api_key: str | None) -> Store:
    from rokkafs.store.remote import RemoteStore

    if not api_key:
        raise click.UsageError("--remote needs --api-key (or ROKKAFS_API_KEY)")
    return RemoteStore(url, api_key, cache_dir=obj.data / "remote-cache")


@cli.command("mount")
@click.argument("mountpoint", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--foreground/--background", default=True, show_default=True)
@click.option("--read-only", is_flag=True, help="Mount read-only.")
@click.option("--allow-other", is_flag=True, help="Let other users see the mount.")
@click.option("--remote", metavar="URL", help="Mount a remote rokka-compatible API instead.")
@click.option("--api-key", envvar="ROKKAFS_API_KEY", help="API key for --remote.")
@click.pass_obj
def mount_command(
    obj: _Context,
    mountpoint: Path,
    foreground: bool,
    read_only: bool,
    allow_other: bool,
    remote: str | None,
    api_key: str | None,
) -> None:
    """Mount the store at MOUNTPOINT: organizations are folders, images are files.

    May run next to `rokkafs serve` on the same data directory. Unmount with
    `rokkafs umount MOUNTPOINT` (or Ctrl-C in the foreground).

    \b
    Examples:
      rokkafs --data ./rokkafs-data mount /mnt/images
      rsync -a ~/Pictures/ /mnt/images/demo/pictures/
    """
    from rokkafs.facestate import FaceState
    from rokkafs.fusefs.mount import mount
    from rokkafs.provider import Provider

    store: Store = obj.store() if remote is None else _remote_store(obj, remote, api_key)
    if remote is None and api_key:  # act as that user of the embedded store
        from rokkafs.access.guard import AuthorizedStore
        from rokkafs.access.registry import AccessRegistry

        registry = AccessRegistry(obj.data)
        principal = registry.authenticate(api_key)
        if principal is None:
            raise click.UsageError("the API key is not valid for this data directory")
        store = AuthorizedStore(store, principal, registry)
    faces = FaceState(obj.data)
    try:
        mount(
            Provider(store, faces),
            mountpoint,
            obj.data,
            foreground=foreground,
            read_only=read_only,
            allow_other=allow_other,
        )
    finally:
        faces.close()
        store.close()


@cli.command("umount")
@click.argument("mountpoint", type=click.Path(file_okay=False, path_type=Path))
def umount_command(mountpoint: Path) -> None:
    """Unmount a rokkafs mount."""
    from rokkafs.fusefs.mount import unmount

    unmount(mountpoint)


def _registry(obj: _Context) -> AccessRegistry:
    from rokkafs.access.registry import AccessRegistry

    return AccessRegistry(obj.data)


@cli.group()
def user() -> None:
    """Users (of the embedded store)."""


@user.command("create")
@click.argument("email")
@click.option("--superuser", is_flag=True, help="A user who sees and may do everything.")
@click.pass_obj
def user_create(obj: _Context, email: str, superuser: bool) -> None:
    """Create a user with a first API key (printed once)."""
    created, key = _registry(obj).create_user(email, superuser=superuser)
    click.echo(f"user {created.id}\napi key {key}")


@cli.group()
def key() -> None:
    """API keys of a user."""


@key.command("create")
@click.argument("user_id")
@click.option("--comment", default="", help="What the key is for.")
@click.pass_obj
def key_create(obj: _Context, user_id: str, comment: str) -> None:
    """Add an API key (at most 5 per user); it is printed once."""
    info, secret = _registry(obj).create_key(user_id, comment)
    click.echo(f"key {info.id}\napi key {secret}")


@key.command("list")
@click.argument("user_id")
@click.pass_obj
def key_list(obj: _Context, user_id: str) -> None:
    """List a user's keys (ids, never the keys)."""
    for info in _registry(obj).list_keys(user_id):
        accessed = info.accessed.isoformat() if info.accessed else "never"
        click.echo(
            f"{info.id}  created {info.created.isoformat()}  used {accessed}  {info.comment}"
        )


@key.command("revoke")
@click.argument("user_id")
@click.argument("key_id")
@click.pass_obj
def key_revoke(obj: _Context, user_id: str, key_id: str) -> None:
    """Revoke one of a user's keys."""
    _registry(obj).revoke_key(user_id, key_id)
    click.echo(f"revoked {key_id}")


@cli.group()
def member() -> None:
    """Memberships: who may do what in an organization."""


@member.command("add")
@click.argument("organization")
@click.argument("user_id")
@click.argument("roles", nargs=-1, required=True)
@click.pass_obj
def member_add(obj: _Context, organization: str, user_id: str, roles: tuple[str, ...]) -> None:
    """Give USER_ID ROLES in ORGANIZATION (read, write, upload, admin, sourceimages:…)."""
    with obj.store() as store:
        store.get_organization(organization)
    membership, _ = _registry(obj).set_membership(organization, user_id, list(roles))
    click.echo(f"{membership.email} in {organization}: {', '.join(membership.roles)}")


@member.command("remove")
@click.argument("organization")
@click.argument("user_id")
@click.pass_obj
def member_remove(obj: _Context, organization: str, user_id: str) -> None:
    """Remove a membership (the last admin stays)."""
    _registry(obj).remove_membership(organization, user_id)
    click.echo(f"removed {user_id} from {organization}")


@member.command("list")
@click.argument("organization")
@click.pass_obj
def member_list(obj: _Context, organization: str) -> None:
    """List the members of ORGANIZATION."""
    for membership in _registry(obj).memberships(organization):
        click.echo(f"{membership.user_id}  {membership.email}  {', '.join(membership.roles)}")


@cli.command()
@click.pass_obj
def info(obj: _Context) -> None:
    """Open (or create) the embedded store and summarize it."""
    with obj.store() as store:
        organizations = store.list_organizations()
        click.echo(f"rokkafs store at {obj.data}")
        click.echo(f"organizations: {len(organizations)}")
        for organization in organizations:
            total = store.list_source_images(organization.name, parse_search({"limit": "0"}))
            click.echo(f"  {organization.name}: {total.total} source images")


@cli.group()
def org() -> None:
    """Organizations."""


@org.command("create")
@click.argument("name")
@click.pass_obj
def org_create(obj: _Context, name: str) -> None:
    """Create organization NAME (a-z, 0-9 and '-')."""
    with obj.store() as store:
        store.create_organization(name)
    click.echo(f"created organization {name}")


@org.command("list")
@click.pass_obj
def org_list(obj: _Context) -> None:
    """List organizations."""
    with obj.store() as store:
        for organization in store.list_organizations():
            click.echo(organization.name)


@cli.command()
@click.argument("organization")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.pass_obj
def upload(obj: _Context, organization: str, files: tuple[str, ...]) -> None:
    """Upload FILES into ORGANIZATION; prints hash and name of each."""
    with obj.store() as store:
        for file in files:
            with open(file, "rb") as handle:
                image = store.create_source_image(organization, handle, name=Path(file).name)
            click.echo(f"{image.hash}  {image.short_hash}  {image.name}")


@cli.command("ls")
@click.argument("organization")
@click.option("--json", "as_json", is_flag=True, help="Print rokka's JSON of each image.")
@click.option("--deleted", is_flag=True, help="List the trash instead.")
@click.pass_obj
def list_images(obj: _Context, organization: str, as_json: bool, deleted: bool) -> None:
    """List the source images of ORGANIZATION, newest first."""
    params = {"limit": "2000"}
    if deleted:
        params["deleted"] = "true"
    with obj.store() as store:
        query = parse_search(params)
        while True:
            page = store.list_source_images(organization, query)
            for image in page.items:
                if as_json:
                    click.echo(json.dumps(source_image_to_rokka(image)))
                else:
                    click.echo(
                        f"{image.short_hash:8} {image.size:>12} {image.format:5} {image.name}"
                    )
            if not page.items or page.cursor is None:
                break
            query = parse_search({**params, "offset": page.cursor})


@cli.command()
@click.option("--deep", is_flag=True, help="Also re-hash every blob.")
@click.pass_obj
def check(obj: _Context, deep: bool) -> None:
    """Check the store's consistency (exit 3 on problems)."""
    with obj.store() as store:
        report = store.check(deep=deep)
    for problem in report.problems:
        click.echo(f"problem: {problem}")
    for note in report.notes:
        click.echo(f"note: {note}")
    click.echo("ok" if report.ok else f"{len(report.problems)} problems")
    if not report.ok:
        sys.exit(EXIT_CHECK_FAILED)


@cli.command("hash")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
def hash_files(files: tuple[str, ...]) -> None:
    """Print binary hash and rokka hash (without dynamic metadata) of FILES."""
    for file in files:
        binary_hash = sha1_file(Path(file))
        click.echo(f"{binary_hash}  {compute_hash(binary_hash)}  {file}")


def main() -> None:
    """Entry point of the ``rokkafs`` console script."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(EXIT_ERROR)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except RokkaFSError as exc:
        if "--debug" in sys.argv:
            raise
        click.echo(f"rokkafs: {exc.message}", err=True)
        sys.exit(EXIT_ERROR)


if __name__ == "__main__":
    main()
