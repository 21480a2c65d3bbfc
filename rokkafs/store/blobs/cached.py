"""A bounded on-disk read cache in front of a remote blob storage (a mount's machine reading
from a bucket): each blob is fetched once, then read locally; the least recently opened go
first once the cache is full. Blobs never change, so a cached copy is never stale."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from rokkafs.store.blobs import BlobInfo, BlobStorage, UnfinishedUpload
from rokkafs.store.remote.cache import DownloadCache

__all__ = ["CachedBlobStorage"]


class CachedBlobStorage(BlobStorage):
    """``inner`` with reads through a local cache of at most ``max_bytes`` under ``folder``;
    everything else goes to ``inner`` unchanged."""

    def __init__(self, inner: BlobStorage, folder: Path, max_bytes: int) -> None:
        super().__init__(inner.staging.folder)  # (stages where ``inner`` does)
        self._inner = inner
        self._cache = DownloadCache(folder, max_bytes)
        self.syncs_staging = inner.syncs_staging

    def open(self, blob_id: str) -> BinaryIO:
        def fetch(out: BinaryIO) -> None:
            with self._inner.open(blob_id) as data:
                shutil.copyfileobj(data, out, 1024 * 1024)

        return self._cache.open("blobs", blob_id, fetch)  # type: ignore[arg-type]

    def stage_copy(self, blob_id: str) -> Path:
        return self._inner.stage_copy(blob_id)

    def publish(self, staged: Path, blob_id: str) -> bool:
        return self._inner.publish(staged, blob_id)

    def exists(self, blob_id: str) -> bool:
        return self._inner.exists(blob_id)

    def delete(self, blob_id: str) -> None:
        self._inner.delete(blob_id)

    def iter_blobs(self) -> Iterator[BlobInfo]:
        return self._inner.iter_blobs()

    def verify(self, blob_id: str) -> bool:
        return self._inner.verify(blob_id)  # (the storage's bytes, not the local copy)

    def unfinished_uploads(self) -> Iterator[UnfinishedUpload]:
        return self._inner.unfinished_uploads()

    def abort_upload(self, upload: UnfinishedUpload) -> None:
        self._inner.abort_upload(upload)
