"""Blob storage: the bytes behind source images, content-addressed.

A blob's id is the sha1 of its bytes. Blobs are shared by every image (of any organization)
with the same stored bytes, so copying an image costs a metadata row. :class:`BlobStorage` is
the small interface LocalStore uses; :mod:`.files` keeps blobs as files in a folder,
:mod:`.s3` as objects of a bucket.

Blobs are published *before* the index transaction that records them and removed only by
the clean-up of :mod:`rokkafs.store.blobs.cleanup`, outside any write transaction (see
``docs/architecture.md#blobs``). The contract speaks in blob ids and streams: staging files
are local (every node stages on its own disk), everything else works for an object store.
"""

from __future__ import annotations

import abc
import hashlib
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from rokkafs.staging import read_chunks

__all__ = ["BlobInfo", "BlobStorage", "StagingFolder", "UnfinishedUpload", "blob_key"]


@dataclass(frozen=True, slots=True)
class BlobInfo:
    """A blob present in a storage: its id, size and when it was published (epoch seconds)."""

    blob_id: str
    size: int
    published: float


@dataclass(frozen=True, slots=True)
class UnfinishedUpload:
    """A multipart upload an object store holds, begun and neither completed nor aborted."""

    key: str
    upload_id: str
    initiated: float  # (epoch seconds)


class StagingFolder:
    """A node's local folder of staging files (every storage stages on local disk first)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def new_file(self) -> tuple[BinaryIO, Path]:
        fd, name = tempfile.mkstemp(dir=self.folder, prefix=f"stage-{os.getpid()}-")
        return os.fdopen(fd, "w+b"), Path(name)

    def new_name(self) -> Path:
        return self.folder / f"stage-{os.getpid()}-{uuid.uuid4().hex}"

    def adopt(self, path: Path) -> Path | None:
        target = self.new_name()
        try:
            os.replace(path, target)
        except OSError:  # another filesystem (EXDEV) or gone
            return None
        return target

    def stale(self, older_than_seconds: float) -> list[Path]:
        cutoff = time.time() - older_than_seconds
        return [p for p in self.folder.iterdir() if p.stat().st_mtime < cutoff]


class BlobStorage(abc.ABC):
    """Where blob bytes live; staging files are on the node's disk (:class:`StagingFolder`)."""

    syncs_staging = True
    """Whether a staging file's bytes must be on disk before :meth:`publish` (it makes the
    file itself the blob); False where publishing copies them to storage that acknowledges
    them durably (nothing on the node's disk has to survive a power cut then)."""

    def __init__(self, staging: Path) -> None:
        self.staging = StagingFolder(staging)

    def new_staging_file(self) -> tuple[BinaryIO, Path]:
        """Create an empty staging file; the caller writes and closes it."""
        return self.staging.new_file()

    def adopt_staging_file(self, path: Path) -> Path | None:
        """Take over a complete file as a staging file without copying it (same filesystem);
        None if it cannot (the file is left alone). Moving it does not make its bytes
        durable: that is the caller's (``Staged.synced``)."""
        return self.staging.adopt(path)

    def stale_staging_files(self, older_than_seconds: float) -> list[Path]:
        """Staging files left behind (by a crash) longer ago than the given age."""
        return self.staging.stale(older_than_seconds)

    @abc.abstractmethod
    def stage_copy(self, blob_id: str) -> Path:
        """A new staging file with a blob's bytes (the caller removes it)."""

    @abc.abstractmethod
    def publish(self, staged: Path, blob_id: str) -> bool:
        """Make a complete, fsynced staging file's bytes blob ``blob_id``, durably; never
        overwrites a blob (one that exists has these bytes already). The staging file stays
        the caller's.

        Returns:
            True if the blob was new.
        """

    @abc.abstractmethod
    def exists(self, blob_id: str) -> bool:
        """Whether the blob's bytes are present."""

    @abc.abstractmethod
    def open(self, blob_id: str) -> BinaryIO:
        """Open a blob for reading (seekable; read as a stream).

        Raises:
            FileNotFoundError: no such blob.
        """

    @abc.abstractmethod
    def delete(self, blob_id: str) -> None:
        """Remove a blob if present."""

    @abc.abstractmethod
    def iter_blobs(self) -> Iterator[BlobInfo]:
        """Every blob present, in the order of their ids (listed lazily)."""

    def unfinished_uploads(self) -> Iterator[UnfinishedUpload]:
        """Uploads begun and never finished that still hold bytes (an object store's
        multipart uploads a stopped node left); none for a folder of files."""
        return iter(())

    def abort_upload(self, upload: UnfinishedUpload) -> None:
        """Abort one unfinished upload, dropping its bytes (only storages that list some)."""
        raise NotImplementedError(f"{type(self).__name__} has no unfinished uploads")

    def abort_unfinished_uploads(self, older_than_seconds: float) -> int:
        """Abort the unfinished uploads begun longer ago than that; how many."""
        cutoff = time.time() - older_than_seconds
        stale = [upload for upload in self.unfinished_uploads() if upload.initiated < cutoff]
        for upload in stale:
            self.abort_upload(upload)
        return len(stale)

    def verify(self, blob_id: str) -> bool:
        """Whether the blob's bytes hash to its id (read as a stream)."""
        digest = hashlib.sha1()
        with self.open(blob_id) as data:
            for chunk in read_chunks(data):
                digest.update(chunk)
        return digest.hexdigest() == blob_id


def blob_key(blob_id: str) -> str:
    """Where a blob lives below its storage's root: ``ab/cd/abcd…``."""
    return f"{blob_id[:2]}/{blob_id[2:4]}/{blob_id}"
