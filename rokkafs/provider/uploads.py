"""The write staging shared by both faces: a file being written, spooled to a staging file
in the data directory and hashed while the bytes arrive in order.

Nothing is visible before :meth:`Provider.commit`; a discarded upload leaves nothing.
Out-of-order writes (a FUSE client seeking back) are allowed; the hash is then computed once
more at the end.
"""

from __future__ import annotations

import os
import queue
import threading
from pathlib import Path
from typing import IO

from rokkafs.errors import PayloadTooLarge
from rokkafs.provider.faces import Faces
from rokkafs.staging import CHUNK, Digests, Staged, file_digests, fsync_soon

__all__ = ["Upload"]


INLINE_BYTES = 4 << 20
QUEUED_PIECES = 8


class _Hasher:
    """The sha1 and md5 of the bytes in arrival order. Past :data:`INLINE_BYTES` it is computed on a
    thread of its own (hashlib releases the GIL), so hashing one piece overlaps receiving the
    next; at most :data:`QUEUED_PIECES` pieces wait, so memory stays flat."""

    def __init__(self) -> None:
        self._digests = Digests()
        self._inline = 0
        self._queue: queue.Queue[bytes | None] | None = None
        self._thread: threading.Thread | None = None

    def add(self, data: bytes | memoryview) -> None:
        """Hash ``data`` (copied if it must wait: the caller may reuse its buffer)."""
        if self._queue is not None:
            self._queue.put(bytes(data))
            return
        self._digests.update(data)
        self._inline += len(data)
        if self._inline >= INLINE_BYTES:
            self._queue = queue.Queue(QUEUED_PIECES)
            self._thread = threading.Thread(target=self._run, args=(self._queue,), daemon=True)
            self._thread.start()

    def _run(self, pieces: queue.Queue[bytes | None]) -> None:
        while (piece := pieces.get()) is not None:
            self._digests.update(piece)

    def stop(self) -> None:
        """Wait until every piece is hashed (the thread ends)."""
        if self._queue is not None and self._thread is not None:
            self._queue.put(None)
            self._thread.join()
        self._queue = self._thread = None

    def hexdigests(self) -> tuple[str, str]:
        """The sha1 and the md5."""
        self.stop()
        return self._digests.sha1.hexdigest(), self._digests.md5.hexdigest()


class Upload:
    """A file being written."""

    def __init__(self, faces: Faces, *, max_bytes: int, sync: bool = True) -> None:
        """``sync``: flush the bytes to disk when the upload is done (not needed when every
        storage they may go to copies them elsewhere: ``syncs_staging``)."""
        handle, self.path = faces.blobs.new_staging_file()
        self._sync = sync
        self._fd = os.dup(handle.fileno())
        handle.close()
        self._digest = _Hasher()
        self._in_order = True
        self.size = 0
        self._max = max_bytes
        self._lock = threading.Lock()
        self._done = False

    def fill_from(self, source: IO[bytes]) -> None:
        """Start from existing content (copy-on-first-write of an opened file)."""
        while chunk := source.read(CHUNK):
            self.write(chunk)

    def write(self, data: bytes | memoryview) -> int:
        """Append bytes (not kept after the call)."""
        return self.pwrite(data, self.size)

    def pwrite(self, data: bytes | memoryview, offset: int) -> int:
        """Write bytes at an offset.

        Raises:
            PayloadTooLarge: the file would outgrow the upload limit.
        """
        with self._lock:
            end = offset + len(data)
            if end > self._max:
                raise PayloadTooLarge(f"the file is larger than the limit of {self._max} bytes")
            if offset != self.size:
                self._in_order = False
            elif self._in_order:
                self._digest.add(data)
            os.pwrite(self._fd, data, offset)
            self.size = max(self.size, end)
            return len(data)

    def pread(self, size: int, offset: int) -> bytes:
        """Read back what was written (a FUSE client may read its own writes)."""
        return os.pread(self._fd, size, offset)

    def truncate(self, length: int) -> None:
        """Cut or extend the file."""
        with self._lock:
            os.ftruncate(self._fd, length)
            if length != self.size:
                self._in_order = self._in_order and length == 0
                if length == 0:
                    self._digest.stop()
                    self._digest = _Hasher()
            self.size = length

    def finish(self) -> Staged:
        """Return the staged file with its sha1; the upload is done. Its fsync starts now, on
        a worker thread, so that the flush overlaps the lookups before the commit
        (``Staged.synced``)."""
        with self._lock:
            synced = None
            if self._sync:
                synced = fsync_soon(self._fd)  # (which closes the descriptor)
            else:
                os.close(self._fd)
            self._done = True
        digest, md5 = self._digest.hexdigests()
        if not self._in_order:
            digest, md5 = file_digests(self.path)
        return Staged(self.path, digest, digest, self.size, synced=synced, md5=md5)

    def discard(self) -> None:
        """Throw the upload away."""
        with self._lock:
            if not self._done:
                os.close(self._fd)
                self._done = True
        self._digest.stop()
        Path(self.path).unlink(missing_ok=True)
