"""The settings of a rokkafs installation, in one typed object.

Precedence, lowest first: built-in defaults, the TOML config file (``--config``,
``$ROKKAFS_CONFIG`` or ``<data>/rokkafs.toml``), environment variables (``ROKKAFS_DATA``,
``ROKKAFS_API_KEY``), command-line flags. The file may hold::

    [store]                       # where and how images are kept
    index = "postgresql://…"      # the metadata index (default: DATA/index.sqlite3)
    blobs = "file:///…"           # the image bytes (default: DATA), or "s3://bucket/prefix?…"
    s3_access_key_id = "…"        # a bucket's credentials (default: $AWS_ACCESS_KEY_ID and
    s3_secret_access_key = "…"    #   $AWS_SECRET_ACCESS_KEY)
    max_upload_bytes = 150000000
    max_pixels = 225000000
    allow_private_urls = false    # upload-by-URL to loopback/private addresses
    trash_days = 30

    [serve]                       # defaults for `rokkafs serve` flags
    host = "127.0.0.1"
    port = 8080

    [mount]                       # defaults for `rokkafs mount` flags
    read_only = false
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from rokkafs.errors import InvalidInput
from rokkafs.store.config import StoreConfig

__all__ = ["Settings", "load_settings"]

_STORE_KEYS = {
    "max_upload_bytes": int,
    "max_pixels": int,
    "allow_private_urls": bool,
    "trash_days": int,
    "index": str,
    "blobs": str,
    "s3_access_key_id": str,
    "s3_secret_access_key": str,
}
_COMMANDS = ("serve", "mount")


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything configurable, typed; ``commands`` holds flag defaults per command."""

    data: Path
    max_upload_bytes: int = 150_000_000
    max_pixels: int = 225_000_000
    allow_private_urls: bool = False
    trash_days: int = 30
    index: str | None = None  # (a URL: postgresql://…; None: the data directory's SQLite)
    blobs: str | None = None  # (a URL: file:///path, s3://…; None: the data directory)
    s3_access_key_id: str | None = field(default=None, repr=False)
    s3_secret_access_key: str | None = field(default=None, repr=False)  # (never shown)
    commands: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def s3(self) -> tuple[str, str] | None:
        """A bucket's credentials from the settings file, if it has both."""
        if self.s3_access_key_id and self.s3_secret_access_key:
            return self.s3_access_key_id, self.s3_secret_access_key
        return None

    def store_config(self) -> StoreConfig:
        return StoreConfig(
            max_upload_bytes=self.max_upload_bytes,
            max_pixels=self.max_pixels,
            allow_private_urls=self.allow_private_urls,
            trash_retention=timedelta(days=self.trash_days),
        )


def load_settings(
    data: Path, config: Path | None, *, index: str | None = None, blobs: str | None = None
) -> Settings:
    """Settings for a data directory, with the config file if there is one; ``index`` and
    ``blobs`` (from the command line or the environment) win over the file's.

    Raises:
        InvalidInput: unreadable TOML, unknown sections or keys, wrong types.
    """
    path = config if config is not None else data / "rokkafs.toml"
    if not path.is_file():
        if config is not None:
            raise InvalidInput(f"config file {config} not found")
        return Settings(data, index=index, blobs=blobs)
    try:
        table = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInput(f"cannot read {path}: {exc}") from exc
    unknown = set(table) - {"store", *_COMMANDS}
    if unknown:
        raise InvalidInput(f"{path}: unknown sections {', '.join(sorted(unknown))}")
    store = table.get("store", {})
    values: dict[str, Any] = {}
    for key, value in store.items():
        kind = _STORE_KEYS.get(key)
        if kind is None or not isinstance(value, kind) or isinstance(value, bool) != (kind is bool):
            raise InvalidInput(f"{path}: [store] {key} = {value!r} is not a valid setting")
        values[key] = value
    commands = {name: dict(table.get(name, {})) for name in _COMMANDS}
    values.update({k: v for k, v in (("index", index), ("blobs", blobs)) if v is not None})
    return Settings(data, commands=commands, **values)
