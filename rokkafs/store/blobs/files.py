"""Blobs as files in a folder (the data directory, or a folder nodes share).

Layout under its root::

    blobs/ab/cd/abcd…         one file per blob, never changed after it appears
    tmp/                      staging files; same filesystem, so publishing is a link

A blob appears only complete: bytes are written to ``tmp/`` and fsynced, then linked into
place (the staging file stays the caller's until it is done) and the directory fsynced. An
fsync may run on a worker thread (:func:`rokkafs.staging.fsync_soon`) while the caller does
other work, as long as it has finished before the file is published.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from rokkafs.store.blobs import BlobInfo, BlobStorage, blob_key

__all__ = ["FileBlobStorage"]


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
        new = True
        try:
            self._link(staged, target)
        except FileNotFoundError:  # the first blob of its folder
            self._make_folder(target.parent)
            try:
                self._link(staged, target)
            except FileExistsError:
                new = False
        except FileExistsError:  # (a twin may have linked it and not yet fsynced the folder)
            new = False
        if new:
            os.utime(target)  # (its age, for the clean-up's grace period, starts now)
        _fsync(target.parent)
        return new

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
