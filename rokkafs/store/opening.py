"""Building the store a node runs on from its settings: the metadata index and the blob
storage are chosen by URL (``--index``, ``--blobs``), the data directory holds the rest.

========================  ======================================================
``--index``               ``postgresql://user@host:port/db`` (several nodes share it);
                          default: ``DATA/index.sqlite3``
``--blobs``               ``file:///path`` (a folder, possibly on a shared filesystem),
                          or ``s3://BUCKET/PREFIX?endpoint=URL&region=R`` (an
                          S3-compatible bucket; staging stays in ``DATA/tmp``);
                          default: ``DATA`` (``DATA/blobs``, ``DATA/tmp``)
========================  ======================================================

Side files' bytes go next to the image bytes: ``side/`` in the folder, ``PREFIX/side/`` in
the bucket.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlsplit

from rokkafs.errors import InvalidInput
from rokkafs.store.blobs import BlobStorage
from rokkafs.store.blobs.files import FileBlobStorage
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
        from rokkafs.store.index.sqlite import SqliteIndex

        return SqliteIndex(data_dir / "index.sqlite3")
    scheme = urlsplit(url).scheme
    if scheme in ("postgresql", "postgres"):
        from rokkafs.store.index.postgres import PostgresIndex

        return PostgresIndex(url)
    raise InvalidInput(f"--index takes a postgresql:// URL, not {scheme or url!r}")


def open_blobs(
    url: str | None,
    data_dir: Path,
    *,
    side: bool = False,
    credentials: tuple[str, str] | None = None,
) -> BlobStorage:
    """The blob storage a URL names (None: the data directory); ``side``: the one of side
    files' bytes next to it. ``credentials`` (access key id, secret) for a bucket, else the
    ``AWS_*`` environment variables.

    Raises:
        InvalidInput: an unknown kind of URL, or a bucket that does not exist.
        BackendUnavailable: the object store cannot be reached.
    """
    parts = urlsplit(url or "")
    if url is None or (parts.scheme == "file" and parts.path):
        root = data_dir if url is None else Path(unquote(parts.path))
        return FileBlobStorage(root / "side" if side else root)
    if parts.scheme == "s3":
        from rokkafs.store.blobs.s3 import S3BlobStorage

        key_id, secret = credentials or (None, None)
        return S3BlobStorage(
            url,
            data_dir / ("side-tmp" if side else "tmp"),
            area="side" if side else "blobs",
            access_key_id=key_id,
            secret_access_key=secret,
        )
    raise InvalidInput(f"--blobs takes a file:///path or s3://bucket/prefix URL, not {url!r}")


def open_store(
    data_dir: Path,
    config: StoreConfig | None = None,
    *,
    index: str | None = None,
    blobs: str | None = None,
    credentials: tuple[str, str] | None = None,
    read_cache_bytes: int = 0,
    clock: Callable[[], float] = time.time,
) -> LocalStore:
    """The store of a node: rokka's semantics over the index and blob storage named
    (``read_cache_bytes``: bytes in a bucket are read through a local cache of that size,
    ``DATA/read-cache``)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    storage = open_blobs(blobs, data_dir, credentials=credentials)
    if read_cache_bytes > 0 and (blobs or "").startswith("s3:"):  # (files: read in place)
        from rokkafs.store.blobs.cached import CachedBlobStorage

        storage = CachedBlobStorage(storage, data_dir / "read-cache", read_cache_bytes)
    return LocalStore(
        data_dir, config, clock=clock, index=open_index(index, data_dir), blobs=storage
    )
