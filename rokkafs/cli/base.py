"""The ``rokkafs`` command group, its shared options and helpers."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
import platformdirs

from rokkafs.settings import Settings, load_settings
from rokkafs.store.base import Store
from rokkafs.store.blobs import BlobStorage
from rokkafs.store.local import LocalStore
from rokkafs.store.opening import open_store

if TYPE_CHECKING:
    from rokkafs.access.registry import AccessRegistry

__all__ = [
    "EXIT_CHECK_FAILED",
    "EXIT_ERROR",
    "Context",
    "cli",
    "open_registry",
    "registry",
    "remote_options",
    "remote_store",
    "shared_database",
    "side_blobs",
]

EXIT_ERROR = 1
EXIT_CHECK_FAILED = 3
F = TypeVar("F", bound=Callable[..., Any])


def default_data_dir() -> Path:
    """The platform's user data directory for rokkafs."""
    return Path(platformdirs.user_data_dir("rokkafs"))


class Context:
    """What every command gets: the data directory and the settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.data = settings.data

    def store(self, *, create: bool = False, read_cache_bytes: int = 0) -> LocalStore:
        """The store (on the index and blobs the settings name); only the commands that make
        one (``create``) start a new one, so a mistyped ``--data`` is an error instead of a
        new empty store. ``read_cache_bytes``: a local read cache of that size in front of
        the blobs (``DATA/read-cache``)."""
        if not create:
            self.require_store()
        settings = self.settings
        return open_store(
            self.data,
            settings.store_config(),
            index=settings.index,
            blobs=settings.blobs,
            credentials=settings.s3(),
            read_cache_bytes=read_cache_bytes,
        )

    def require_store(self) -> None:
        """Raise unless the data directory holds a store (a database index holds its own)."""
        if self.settings.index is None and not (self.data / "index.sqlite3").exists():
            raise click.ClickException(
                f"no rokkafs store in {self.data} (check --data; `rokkafs --data DIR serve` "
                "or `org create` makes one)"
            )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--data",
    type=click.Path(file_okay=False, resolve_path=True, path_type=Path),
    envvar="ROKKAFS_DATA",
    default=default_data_dir,
    show_default="the platform's user data directory",
    help="Data directory of the embedded store (env ROKKAFS_DATA).",
)
@click.option(
    "--index",
    metavar="URL",
    envvar="ROKKAFS_INDEX",
    help="Metadata index: postgresql://user@host:port/db (default: DATA/index.sqlite3; "
    "env ROKKAFS_INDEX).",
)
@click.option(
    "--blobs",
    metavar="URL",
    envvar="ROKKAFS_BLOBS",
    help="Image bytes: file:///path, a folder (default: DATA; env ROKKAFS_BLOBS).",
)
@click.option(
    "--config",
    type=click.Path(dir_okay=False, resolve_path=True, path_type=Path),
    envvar="ROKKAFS_CONFIG",
    help="TOML config file (default: DATA/rokkafs.toml if it exists; env ROKKAFS_CONFIG).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks of errors.")
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
    help="What the server and the mount log (one line per request at info).",
)
@click.pass_context
def cli(
    ctx: click.Context,
    data: Path,
    index: str | None,
    blobs: str | None,
    config: Path | None,
    debug: bool,
    log_level: str,
) -> None:
    """rokkafs: a rokka-compatible source image store.

    \b
    Examples:
      rokkafs --data ./rokkafs-data info
      rokkafs --data ./rokkafs-data org create demo
      rokkafs --data ./rokkafs-data upload demo photos/*.jpg
      rokkafs hash photos/cat.jpg
    """
    settings = load_settings(data, config, index=index, blobs=blobs)
    ctx.obj = Context(settings)
    ctx.default_map = {name: dict(values) for name, values in settings.commands.items()}
    ctx.meta["debug"] = debug
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def remote_options(remote_help: str, api_key_help: str) -> Callable[[F], F]:
    """The ``--remote URL`` and ``--api-key`` options of the commands that can sit on a
    remote rokka-compatible API; see :func:`remote_store`."""

    def decorate(command: F) -> F:
        command = click.option("--api-key", envvar="ROKKAFS_API_KEY", help=api_key_help)(command)
        return click.option("--remote", metavar="URL", help=remote_help)(command)

    return decorate


def remote_store(obj: Context, url: str, api_key: str | None) -> Store:
    from rokkafs.store.remote import RemoteStore

    if not api_key:
        raise click.UsageError("--remote needs --api-key (or ROKKAFS_API_KEY)")
    return RemoteStore(url, api_key, cache_dir=obj.data / "remote-cache")


def shared_database(obj: Context) -> str | None:
    """The PostgreSQL URL when the index is one: the nodes' shared state goes there too."""
    index = obj.settings.index
    return index if index is not None and index.startswith(("postgresql:", "postgres:")) else None


def side_blobs(obj: Context) -> BlobStorage:
    """Where side files' bytes go: next to the image bytes (``side/`` of the data directory,
    of the shared folder, or of the bucket's prefix)."""
    from rokkafs.store.opening import open_blobs

    return open_blobs(obj.settings.blobs, obj.data, side=True, credentials=obj.settings.s3())


def open_registry(obj: Context) -> AccessRegistry:
    """The users, keys and memberships: in the index database when there is one (several
    nodes share them), else in the data directory."""
    from rokkafs.access.registry import AccessRegistry

    return AccessRegistry(obj.data, database_url=shared_database(obj))


def registry(obj: Context) -> AccessRegistry:
    obj.require_store()
    return open_registry(obj)
