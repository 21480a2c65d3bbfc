"""Helpers of the storage contract suites (tests/storage)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from rokkafs.staging import Staged
from rokkafs.store.blobs import BlobStorage
from rokkafs.store.index import MetadataIndex

IndexFactory = Callable[[], MetadataIndex]


def stage(storage: BlobStorage, data: bytes) -> tuple[Path, str]:
    """A staging file of ``storage`` with ``data``, and the blob id of the bytes."""
    handle, path = storage.new_staging_file()
    with handle:
        handle.write(data)
    return path, hashlib.sha1(data).hexdigest()


def staged_blob(storage: BlobStorage, data: bytes) -> Staged:
    """``data`` staged as an upload's complete, durable bytes."""
    path, blob_id = stage(storage, data)
    return Staged(path, blob_id, blob_id, len(data))
