"""Blobs as files in a folder (the data directory, or a folder nodes share).

Layout under its root::

    blobs/ab/abcd…            one file per blob, never changed after it appears
    blobs/ab/cd/abcd…         where earlier versions put them (still read, never written)
    tmp/                      staging files; same filesystem, so publishing is a link

The 256 ``ab`` folders are made (durably) when the storage is first opened, so publishing a
blob is a link and one fsync of its folder: a second level of 65,536 folders, as before,
cost a mkdir and two more fsyncs for most uploads of any store below ~100,000 blobs.

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
        if not (self._blobs / _FOLDERS[-1]).is_dir():  # (made last: all of them exist)
            self._make_folders()

    def _make_folders(self) -> None:
        self._blobs.mkdir(parents=True, exist_ok=True)
        for name in _FOLDERS:
            (self._blobs / name).mkdir(exist_ok=True)
        _fsync(self._blobs)
        _fsync(self._blobs.parent)

    def path(self, blob_id: str) -> Path:
        """The file that holds (or will hold) a blob: where older versions put it, if it is
        there."""
        legacy = self._legacy_path(blob_id)
        return legacy if legacy.is_file() else self._new_path(blob_id)

    def _new_path(self, blob_id: str) -> Path:
        return self._blobs / blob_id[:2] / blob_id

    def _legacy_path(self, blob_id: str) -> Path:
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
        if self._legacy_path(blob_id).is_file():  # (published, durably, by an older rokkafs)
            return False
        target = self._new_path(blob_id)
        new = True
        try:
            self._link(staged, target)
        except FileNotFoundError:  # (its folder is missing: a store made by older versions)
            self._make_folders()
            try:
                self._link(staged, target)
            except FileExistsError:  # (a twin was quicker)
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

    def exists(self, blob_id: str) -> bool:
        return self._new_path(blob_id).is_file() or self._legacy_path(blob_id).is_file()

    def open(self, blob_id: str) -> BinaryIO:
        try:
            return self._new_path(blob_id).open("rb")
        except FileNotFoundError:
            return self._legacy_path(blob_id).open("rb")

    def delete(self, blob_id: str) -> None:
        self._new_path(blob_id).unlink(missing_ok=True)
        self._legacy_path(blob_id).unlink(missing_ok=True)

    def iter_blobs(self) -> Iterator[BlobInfo]:
        """Every blob file in the order of its id, one ``ab`` folder in memory at a time."""
        for first in sorted(self._blobs.iterdir()):
            if not first.is_dir():
                continue
            files = [e for e in first.iterdir() if len(e.name) > 2]
            for second in (e for e in first.iterdir() if len(e.name) == 2 and e.is_dir()):
                files.extend(second.iterdir())  # (the older layout)
            previous = ""
            for blob in sorted(files, key=lambda file: file.name):
                if blob.name == previous:  # (in both layouts: one blob)
                    continue
                previous = blob.name
                try:
                    status = blob.stat()
                except FileNotFoundError:  # (removed meanwhile)
                    continue
                yield BlobInfo(blob.name, status.st_size, status.st_mtime)


_FOLDERS = [f"{n:02x}" for n in range(256)]


def _fsync(path: Path) -> None:
    """Make a file's bytes, or a directory's entries, durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
