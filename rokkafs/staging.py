"""Staging: what an upload is before a store takes it, shared by the faces and the stores.

An upload is spooled to a staging file and hashed (sha1 and md5) while its bytes arrive; its
fsync may run on a worker thread while the caller does other work (:func:`fsync_soon`), as
long as it has finished before the file is published. Nothing here knows where blobs live:
a staging area is anything that makes new staging files (:class:`StagingArea`).
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO, Protocol

from rokkafs.errors import PayloadTooLarge
from rokkafs.model import ImageInfo

__all__ = [
    "CHUNK",
    "Digests",
    "HandedOver",
    "Staged",
    "StagingArea",
    "file_digests",
    "fsync_soon",
    "read_chunks",
    "sha1_file",
    "stage_chunks",
]


class StagingArea(Protocol):
    """Where staging files are made (a blob storage, the faces' side-file storage)."""

    @property
    def syncs_staging(self) -> bool:
        """Whether a staging file's bytes must reach the disk before they are published (a
        folder of files links the staging file into place; an object store copies the bytes
        and acknowledges them durably itself)."""
        ...

    def new_staging_file(self) -> tuple[BinaryIO, Path]:
        """Create an empty staging file; the caller writes and closes it."""
        ...


CHUNK = 1 << 20
_SYNCING = ThreadPoolExecutor(max_workers=8, thread_name_prefix="rokkafs-fsync")


def fsync_soon(fd: int) -> Future[None]:
    """fsync and close a file descriptor on a worker thread (fsync releases the GIL, so the
    caller's next steps overlap the disk flush); the future fails if the fsync does. While
    the interpreter shuts down (no new threads) the fsync runs at once instead."""
    try:
        return _SYNCING.submit(_fsync_fd, fd)
    except RuntimeError:
        done: Future[None] = Future()
        try:
            _fsync_fd(fd)
            done.set_result(None)
        except OSError as exc:
            done.set_exception(exc)
        return done


def _fsync_fd(fd: int) -> None:
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Digests:
    """The sha1 and the md5 of one stream, fed together (the md5 is what rclone compares)."""

    def __init__(self) -> None:
        self.sha1 = hashlib.sha1()
        self.md5 = hashlib.md5(usedforsecurity=False)

    def update(self, data: bytes | memoryview) -> None:
        self.sha1.update(data)
        self.md5.update(data)


def file_digests(path: Path) -> tuple[str, str]:
    """The sha1 and md5 hex digests of a file, read in 1 MiB pieces."""
    digests = Digests()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digests.update(chunk)
    return digests.sha1.hexdigest(), digests.md5.hexdigest()


def sha1_file(path: Path) -> str:
    """Return the sha1 hex digest of a file, read in 1 MiB pieces."""
    digest = hashlib.sha1()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class Staged:
    """A complete staging file and what is known about it.

    ``binary_hash`` is the sha1 of the bytes as uploaded; ``blob_id`` the sha1 of the bytes
    that will be stored (different only after ``optimize_source``). ``synced`` is an fsync of
    the file still running (:func:`fsync_soon`); None means nothing to wait for (its bytes are
    durable already, or need not be: ``StagingArea.syncs_staging``).
    Whoever publishes the file calls :meth:`wait_durable` first.
    """

    path: Path
    binary_hash: str
    blob_id: str
    size: int
    info: ImageInfo | None = None
    synced: Future[None] | None = None
    md5: str | None = None  # (of the bytes to store; None: not known, computed when needed)

    def wait_durable(self) -> None:
        """Return once the bytes are on disk (raises the fsync's error if it failed)."""
        if self.synced is not None:
            self.synced.result()


class HandedOver(io.BufferedReader):
    """A complete staging file given to ``Store.create_source_image`` together with its sha1
    (and the fsync already running on it, if any: ``synced`` as in :class:`Staged`).

    Any store can read it like any stream; LocalStore, on the same filesystem, moves the file
    into place instead of copying and hashing it again. So the caller must not use ``path``
    after the upload, only remove it if it is still there.
    """

    def __init__(self, staged: Staged) -> None:
        super().__init__(io.FileIO(staged.path, "rb"))
        self.staged = staged


def read_chunks(data: IO[bytes]) -> Iterator[bytes]:
    """Yield a stream's bytes in 1 MiB pieces."""
    while chunk := data.read(CHUNK):
        yield chunk


def stage_chunks(area: StagingArea, chunks: Iterable[bytes], *, max_bytes: int) -> Staged:
    """Write chunks to a new staging file, hashing them.

    Raises:
        PayloadTooLarge: more than ``max_bytes`` arrived (the staging file is removed).
    """
    handle, path = area.new_staging_file()
    digests = Digests()
    size = 0
    try:
        with handle:
            for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise PayloadTooLarge(f"the upload is larger than {max_bytes} bytes")
                digests.update(chunk)
                handle.write(chunk)
            if area.syncs_staging:
                handle.flush()
                os.fsync(handle.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    binary_hash = digests.sha1.hexdigest()
    return Staged(path, binary_hash, binary_hash, size, md5=digests.md5.hexdigest())
