"""A bounded on-disk read cache in front of a remote blob storage (a mount's machine reading
from a bucket, or a server that asks for one): each blob is fetched once, or kept as it was
uploaded, then read locally; the least recently opened go first once the cache is full.
Blobs never change, so a cached copy is never stale."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from rokkafs.store.blobs import BlobInfo, BlobStorage, UnfinishedUpload
from rokkafs.store.remote.cache import DownloadCache

__all__ = ["CachedBlobStorage"]

log = logging.getLogger(__name__)


class CachedBlobStorage(BlobStorage):
    """``inner`` with reads through a local cache of at most ``max_bytes`` under ``folder``;
    everything else goes to ``inner`` unchanged."""

    def __init__(
        self, inner: BlobStorage, folder: Path, max_bytes: int, *, max_blob_bytes: int | None = None
    ) -> None:
        super().__init__(inner.staging.folder)  # (stages where ``inner`` does)
        self._inner = inner
        self._cache = DownloadCache(folder, max_bytes)
        # (bigger blobs stream from ``inner``: a range of a huge image must not wait for all
        # of it, nor push the whole cache out)
        self._max_blob_bytes = max_bytes // 8 if max_blob_bytes is None else max_blob_bytes
        self.syncs_staging = inner.syncs_staging

    def open(self, blob_id: str) -> BinaryIO:
        cached = self._cache.cached("blobs", blob_id)
        if cached is not None:
            return cached
        data = self._inner.open(blob_id)
        try:
            size = data.seek(0, os.SEEK_END)
            data.seek(0)
        except BaseException:
            data.close()
            raise
        if size > self._max_blob_bytes:
            return data
        try:
            with data:
                return self._cache.open(
                    "blobs", blob_id, lambda out: shutil.copyfileobj(data, out, 1024 * 1024)
                )
        except OSError as exc:  # (a full or failing local disk: read from ``inner`` instead)
            log.warning("read cache: %s; reading blob %s from the storage", exc, blob_id)
            return self._inner.open(blob_id)

    def wait_kept(self) -> None:
        """Wait until the blobs just published are in the cache (for tests)."""
        self._cache.wait_kept()

    def stage_copy(self, blob_id: str) -> Path:
        return self._inner.stage_copy(blob_id)

    def publish(self, staged: Path, blob_id: str) -> bool:
        new = self._inner.publish(staged, blob_id)
        if staged.stat().st_size <= self._max_blob_bytes:
            self._cache.keep("blobs", blob_id, staged)  # (an image is often read soon after)
        return new

    def exists(self, blob_id: str) -> bool:
        return self._inner.exists(blob_id)

    def delete(self, blob_id: str) -> None:
        self._inner.delete(blob_id)
        self._cache.discard("blobs", blob_id)  # (copies elsewhere hold the same bytes)

    def iter_blobs(self) -> Iterator[BlobInfo]:
        return self._inner.iter_blobs()

    def verify(self, blob_id: str) -> bool:
        return self._inner.verify(blob_id)  # (the storage's bytes, not the local copy)

    def unfinished_uploads(self) -> Iterator[UnfinishedUpload]:
        return self._inner.unfinished_uploads()

    def abort_upload(self, upload: UnfinishedUpload) -> None:
        self._inner.abort_upload(upload)
