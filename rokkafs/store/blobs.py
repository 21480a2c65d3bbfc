"""Blob storage: content-addressed files, the bytes behind source images.

A blob's id is the sha1 of its bytes. Blobs are shared by every image (of any organization)
with the same stored bytes, so copying an image costs a metadata row. :class:`BlobStorage` is
the small interface LocalStore uses, so that an object store can replace the local files.

:class:`FileBlobStorage` layout under its root::

    blobs/ab/cd/abcd…         one file per blob, never changed after it appears
    tmp/                      staging files; same filesystem, so publishing is an atomic rename

A blob appears only complete: bytes are written to ``tmp/`` and fsynced, then linked into
place (the staging file stays the caller's until it is done) and the directory fsynced. An
fsync may run on a worker thread (:func:`rokkafs.staging.fsync_soon`) while the caller does
other work, as long as it has finished before the file is published.

Blobs are published *before* the index transaction that records them and removed only by
the clean-up of :mod:`rokkafs.store.blob_cleanup`, outside any write transaction (see
``docs/architecture.md#blobs``). The contract speaks in blob ids and streams: staging files
are local (every node stages on its own disk), everything else works for an object store.
"""

from __future__ import annotations

import abc
import errno
import hashlib
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from rokkafs.staging import read_chunks

__all__ = ["BlobInfo", "BlobStorage", "FileBlobStorage", "StagingFolder", "blob_key"]


@dataclass(frozen=True, slots=True)
class BlobInfo:
    """A blob present in a storage: its id, size and when it was published (epoch seconds)."""

    blob_id: str
    size: int
    published: float


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


class FileBlobStorage(BlobStorage):
    """Blobs as files in a local directory tree. Safe for several processes."""

    def __init__(self, root: Path) -> None:
        super().__init__(root / "tmp")
        self._blobs = root / "blobs"
        self._blobs.mkdir(parents=True, exist_ok=True)

    def path(self, blob_id: str) -> Path:
        """The file that holds (or will hold) a blob."""
        return self._blobs / blob_key(blob_id)

    def stage_copy(self, blob_id: str) -> Path:
        """A hard link (blobs never change once they appear, so sharing the inode is safe), a
        copy where links are not possible."""
        target = self.staging.new_name()
        try:
            os.link(self.path(blob_id), target)
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.EXDEV, errno.EMLINK, errno.ENOTSUP):
                raise
            shutil.copyfile(self.path(blob_id), target)
        return target

    def publish(self, staged: Path, blob_id: str) -> bool:
        target = self.path(blob_id)
        try:
            self._link(staged, target)
        except FileNotFoundError:  # the first blob of its folder
            self._make_folder(target.parent)
            try:
                self._link(staged, target)
            except FileExistsError:
                return False
        except FileExistsError:
            return False
        _fsync(target.parent)
        return True

    def _link(self, staged: Path, target: Path) -> None:
        """Give ``target`` the staged bytes, failing if it exists: a hard link, or where the
        filesystem has none a fsynced copy renamed into place."""
        try:
            os.link(staged, target)
            return
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                raise
        if target.exists():
            raise FileExistsError(errno.EEXIST, "blob exists", str(target))
        copy = self.staging.new_name()
        try:
            shutil.copyfile(staged, copy)
            _fsync(copy)
            os.replace(copy, target)  # (a racing twin has the same bytes)
        finally:
            copy.unlink(missing_ok=True)

    def _make_folder(self, folder: Path) -> None:
        """Create a blob folder (``ab/cd``) durably: each new folder's entry is fsynced in its
        parent, or a blob inside could vanish with it after a power loss."""
        for level in (folder.parent, folder):
            try:
                level.mkdir()
            except FileExistsError:
                continue
            _fsync(level.parent)

    def exists(self, blob_id: str) -> bool:
        return self.path(blob_id).is_file()

    def open(self, blob_id: str) -> BinaryIO:
        return self.path(blob_id).open("rb")

    def delete(self, blob_id: str) -> None:
        self.path(blob_id).unlink(missing_ok=True)

    def iter_blobs(self) -> Iterator[BlobInfo]:
        for first in sorted(self._blobs.iterdir()):
            for second in sorted(first.iterdir()):
                for blob in sorted(second.iterdir()):
                    try:
                        status = blob.stat()
                    except FileNotFoundError:  # (removed meanwhile)
                        continue
                    yield BlobInfo(blob.name, status.st_size, status.st_mtime)


def _fsync(path: Path) -> None:
    """Make a file's bytes, or a directory's entries, durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
