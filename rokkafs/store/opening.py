"""Building the store a node runs on from its settings: the metadata index and the blob
storage are chosen by URL (``--index``, ``--blobs``), the data directory holds the rest.

========================  ======================================================
``--index``               ``postgresql://user@host:port/db`` (several nodes share it);
                          default: ``DATA/index.sqlite3``
``--blobs``               ``file:///path`` (a folder, possibly on a shared filesystem);
                          default: ``DATA`` (``DATA/blobs``, ``DATA/tmp``)
========================  ======================================================
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlsplit

from rokkafs.errors import InvalidInput
from rokkafs.store.blobs import BlobStorage, FileBlobStorage
from rokkafs.store.config import StoreConfig
from rokkafs.store.index import MetadataIndex
from rokkafs.store.local import LocalStore

__all__ = ["open_blobs", "open_index", "open_store"]


def open_index(url: str | None, data_dir: Path) -> MetadataIndex:
    """The metadata index a URL names (None: the data directory's SQLite file).

    Raises:
        InvalidInput: an unknown kind of URL.
        BackendUnavailable: the database cannot be reached.
    """
    if url is None or url == "sqlite":
        from rokkafs.store.sqlite_index import SqliteIndex

        return SqliteIndex(data_dir / "index.sqlite3")
    scheme = urlsplit(url).scheme
    if scheme in ("postgresql", "postgres"):
        from rokkafs.store.postgres_index import PostgresIndex

        return PostgresIndex(url)
    raise InvalidInput(f"--index takes a postgresql:// URL, not {scheme or url!r}")


def open_blobs(url: str | None, data_dir: Path) -> BlobStorage:
    """The blob storage a URL names (None: the data directory).

    Raises:
        InvalidInput: an unknown kind of URL.
    """
    if url is None:
        return FileBlobStorage(data_dir)
    parts = urlsplit(url)
    if parts.scheme == "file" and parts.path:
        return FileBlobStorage(Path(unquote(parts.path)))
    raise InvalidInput(f"--blobs takes a file:///path URL, not {url!r}")


def open_store(
    data_dir: Path,
    config: StoreConfig | None = None,
    *,
    index: str | None = None,
    blobs: str | None = None,
    clock: Callable[[], float] = time.time,
) -> LocalStore:
    """The store of a node: rokka's semantics over the index and blob storage named."""
    data_dir.mkdir(parents=True, exist_ok=True)
    return LocalStore(
        data_dir,
        config,
        clock=clock,
        index=open_index(index, data_dir),
        blobs=open_blobs(blobs, data_dir),
    )
