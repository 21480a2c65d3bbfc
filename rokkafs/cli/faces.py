"""``serve``, ``mount`` and ``umount``: the faces."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import click

from rokkafs.access.registry import AccessRegistry
from rokkafs.cli.base import (
    Context,
    cli,
    open_registry,
    remote_options,
    remote_store,
    shared_database,
    side_blobs,
)
from rokkafs.errors import RokkaFSError
from rokkafs.store.base import Store


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--tls-cert", type=click.Path(exists=True, dir_okay=False, resolve_path=True, path_type=Path)
)
@click.option(
    "--tls-key", type=click.Path(exists=True, dir_okay=False, resolve_path=True, path_type=Path)
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Server processes sharing the port (one process uses about one CPU; try the number "
    "of CPUs).",
)
@click.option(
    "--http-server",
    type=click.Choice(["cheroot", "granian"]),
    default="cheroot",
    show_default=True,
    envvar="ROKKAFS_HTTP_SERVER",
    help="The HTTP server: cheroot (pure Python) or granian (Rust; faster under many "
    "concurrent small requests; "
    "pip install 'rokkafs[granian]').",
)
@click.option(
    "--read-cache-mib",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Keep uploaded and read images in a local cache of this size (DATA/read-cache), "
    "for bytes in a bucket: later reads of them need no request to it.",
)
@remote_options("Serve a remote rokka-compatible API instead.", "API key for --remote.")
@click.pass_obj
def serve(
    obj: Context,
    host: str,
    port: int,
    tls_cert: Path | None,
    tls_key: Path | None,
    workers: int,
    http_server: str,
    read_cache_mib: int,
    remote: str | None,
    api_key: str | None,
) -> None:
    """Serve rokka's REST API on the embedded store (or, with --remote, on a remote one).

    On first start an admin API key is created, written to DATA/admin-api-key (mode 0600)
    and printed; send it as the Api-Key header.

    \b
    Examples:
      rokkafs --data ./rokkafs-data serve --port 8080
      rokkafs --data ./rokkafs-data serve --workers 4
      rokkafs --data ./proxy serve --remote https://api.rokka.io --api-key "$KEY"
    """
    from rokkafs.processes import in_a_child, limit_malloc_arenas, serve_in_processes
    from rokkafs.server import make_server, whole_app

    if http_server == "granian":
        from rokkafs.granianserver import require_granian

        require_granian()
    limit_malloc_arenas()
    if workers == 1 and http_server == "cheroot":
        _ensure_admin(obj, remote, api_key)
    else:  # (in a child: nothing it opens may live in the process the workers fork from)

        def prepare() -> None:
            try:
                try:
                    _ensure_admin(obj, remote, api_key, prepare=True)
                except RokkaFSError as exc:  # (said as the command line says it: one line)
                    raise click.ClickException(f"rokkafs: {exc.message}") from exc
            except click.ClickException as exc:
                exc.show()
                raise SystemExit(exc.exit_code) from exc

        status = in_a_child(prepare)
        if status:
            raise SystemExit(status)

    def open_all() -> tuple[Store, AccessRegistry]:  # (in each worker, after the fork)
        store = (
            obj.store(create=True, read_cache_bytes=read_cache_mib * 1024 * 1024)
            if remote is None
            else remote_store(obj, remote, api_key)
        )
        return store, open_registry(obj)

    def run() -> None:
        store, registry = open_all()
        server = make_server(
            store,
            lambda: [],
            host=host,
            port=port,
            tls_cert=tls_cert,
            tls_key=tls_key,
            data_dir=obj.data,
            registry=registry,
            database_url=shared_database(obj),
            side_blobs=side_blobs(obj),
            reuse_port=workers > 1,
        )
        try:
            server.safe_start()
        finally:
            server.stop()  # (again: its threads must end, or this process never exits)
            store.close()
            registry.close()

    def load() -> tuple[object, Callable[[], None]]:
        store, registry = open_all()
        app = whole_app(
            store, lambda: [], data_dir=obj.data, registry=registry,
            database_url=shared_database(obj), side_blobs=side_blobs(obj),
        )  # fmt: skip

        def close() -> None:
            store.close()
            registry.close()

        return app, close

    scheme = "https" if tls_cert else "http"
    click.echo(f"rokkafs serves the REST API at {scheme}://{host}:{port}/ (data: {obj.data})")
    click.echo(f"and WebDAV at {scheme}://{host}:{port}/dav/ (user: anything, password: API key)")
    if http_server == "granian":
        from rokkafs.granianserver import serve_with_granian

        serve_with_granian(
            load, host=host, port=port, workers=workers, tls_cert=tls_cert, tls_key=tls_key
        )
    else:
        serve_in_processes(workers, run)


def _prepare_state(obj: Context) -> None:
    """Open the face state and WebDAV state once before the workers start, so that what a
    first opening does (creating tables, importing an older version's files) runs in one
    process, not in all at once."""
    from rokkafs.provider.facestate import FaceState
    from rokkafs.webdav.davstate import DavState

    database_url = shared_database(obj)
    FaceState(obj.data, database_url=database_url, blobs=side_blobs(obj)).close()
    DavState(obj.data, database_url=database_url).close()


def _ensure_admin(
    obj: Context, remote: str | None, api_key: str | None, *, prepare: bool = False
) -> None:
    """On the first start, the administrator and its key file (before any worker starts);
    with ``prepare`` the states that workers would otherwise all create at once."""
    from rokkafs.access.adminkey import ADMIN_KEY_FILE, ensure_admin_key

    store = obj.store(create=True) if remote is None else remote_store(obj, remote, api_key)
    store.close()
    registry = open_registry(obj)
    try:
        key, created = ensure_admin_key(obj.data)  # (written first: never an admin nobody knows)
        if shared_database(obj) is not None:  # shared: the first node to start makes it
            if registry.create_first_admin(key) is None and created:
                (obj.data / ADMIN_KEY_FILE).unlink()  # another node made the administrator
                created = False
                click.echo("the administrator exists in the database (its key is in the data")
                click.echo("directory of the node that started first)")
        elif created or not registry.has_users():  # the administrator, keyed by the key file
            registry.create_user("admin", superuser=True, key=key)
    finally:
        registry.close()
    if created:
        click.echo(f"created the admin API key {key}")
        click.echo(f"(saved in {obj.data / ADMIN_KEY_FILE}, mode 0600)")
    if prepare:
        _prepare_state(obj)


@cli.command("mount")
@click.argument(
    "mountpoint", type=click.Path(file_okay=False, exists=True, resolve_path=True, path_type=Path)
)
@click.option("--foreground/--background", default=True, show_default=True)
@click.option("--read-only", is_flag=True, help="Mount read-only.")
@click.option("--allow-other", is_flag=True, help="Let other users see the mount.")
@click.option(
    "--read-cache-mib",
    type=click.IntRange(min=0),
    default=None,
    help="Keep read and written images in a local cache of this size (DATA/read-cache). "
    "Default: 1024 when the bytes are in a bucket, else 0 (off).",
)
@remote_options(
    "Mount a remote rokka-compatible API instead.",
    "API key for --remote; without it, a user's key: the mount acts as that user.",
)
@click.pass_obj
def mount_command(
    obj: Context,
    mountpoint: Path,
    foreground: bool,
    read_only: bool,
    allow_other: bool,
    read_cache_mib: int | None,
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
    from rokkafs.fusefs.mount import mount
    from rokkafs.processes import limit_malloc_arenas
    from rokkafs.provider import Provider
    from rokkafs.provider.facestate import FaceState

    limit_malloc_arenas()
    if os.path.ismount(mountpoint):
        raise click.ClickException(f"{mountpoint} is mounted already (rokkafs umount it first)")

    if read_cache_mib is None:
        in_bucket = (obj.settings.blobs or "").startswith("s3:")
        read_cache_mib = 1024 if in_bucket else 0
    store: Store = (
        obj.store(create=True, read_cache_bytes=read_cache_mib * 1024 * 1024)
        if remote is None
        else remote_store(obj, remote, api_key)
    )
    faces = FaceState(obj.data, database_url=shared_database(obj), blobs=side_blobs(obj))
    paths = Provider(store, faces)
    if remote is None and api_key:  # act as that user of the embedded store
        from rokkafs.access.faces import AuthorizedFaces
        from rokkafs.access.guard import AuthorizedStore

        registry = open_registry(obj)
        principal = registry.authenticate(api_key)
        if principal is None:
            raise click.UsageError("the API key is not valid for this data directory")
        guarded = AuthorizedStore(store, principal, registry)
        paths = Provider(guarded, AuthorizedFaces(faces, guarded.require))
    try:
        mount(
            paths,
            mountpoint,
            obj.data,
            foreground=foreground,
            read_only=read_only,
            allow_other=allow_other,
            list_on_miss=remote is not None,
            changes_url=shared_database(obj) if remote is None else None,
        )
    finally:
        faces.close()
        store.close()


@cli.command("umount")
@click.argument("mountpoint", type=click.Path(file_okay=False, resolve_path=True, path_type=Path))
def umount_command(mountpoint: Path) -> None:
    """Unmount a rokkafs mount."""
    from rokkafs.fusefs.mount import unmount

    if not os.path.ismount(mountpoint):
        raise click.ClickException(f"{mountpoint} is not mounted")
    unmount(mountpoint)
