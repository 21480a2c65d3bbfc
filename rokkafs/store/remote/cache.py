"""The bounded local copy of originals that a RemoteStore, or a node whose blobs are in a
bucket, reads from: each is fetched once (or kept as it was uploaded), then read locally.

A copy gets its name only once its bytes are on disk (fsynced first), so after a crash a name
holds whole bytes or is missing; unnamed temporaries older than an hour are removed."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import IO, BinaryIO

__all__ = ["DownloadCache"]

log = logging.getLogger(__name__)

# (other processes may fill the same folder: the size on disk is counted again this often)
_RECOUNT_EVERY = 64
_PART = ".part-"
_STALE_PART_SECONDS = 3600.0


class DownloadCache:
    """Originals under a folder (a temporary one unless given), the least recently opened
    removed first once they exceed ``max_bytes``. The size is counted on disk when opened,
    then kept up to date in memory (and counted again every few additions, as other
    processes may share the folder)."""

    def __init__(self, folder: Path | None, max_bytes: int) -> None:
        self._own = folder is None
        self._folder = folder or Path(tempfile.mkdtemp(prefix="rokkafs-cache-"))
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        self._bytes = sum(size for _, size, _ in self._files())
        self._additions = 0
        self._settling = ThreadPoolExecutor(1, thread_name_prefix="rokkafs-cache")
        self._kept: list[Future[None]] = []

    def open(self, org: str, image_hash: str, fetch: Callable[[IO[bytes]], None]) -> BinaryIO:
        """The original of ``image_hash``, fetched (``fetch`` writes its bytes) if missing."""
        kept = self.cached(org, image_hash)
        if kept is not None:
            return kept
        cached = self._folder / org / image_hash
        temp = self._temporary(cached)
        try:
            with temp.open("wb") as out:
                fetch(out)
                out.flush()
                os.fsync(out.fileno())
            handle = temp.open("rb")  # (open before it shows: an eviction may come at once)
            try:
                os.replace(temp, cached)
            except BaseException:
                handle.close()
                raise
        finally:
            temp.unlink(missing_ok=True)
        self._grew(os.fstat(handle.fileno()).st_size)
        return handle

    def cached(self, org: str, image_hash: str) -> BinaryIO | None:
        """The original of ``image_hash`` if it is here (now the most recently opened)."""
        cached = self._folder / org / image_hash
        try:
            handle = cached.open("rb")
        except FileNotFoundError:  # (not here, or evicted by another process just now)
            return None
        with contextlib.suppress(OSError):  # (it only orders the eviction)
            os.utime(cached)
        return handle

    def keep(self, org: str, image_hash: str, source: Path) -> None:
        """Keep a local file's bytes as the original of ``image_hash`` (an upload's, so that
        reading it soon after needs no fetch): a hard link where it can, else a copy, named
        once a worker thread has flushed it. A failure only means it is not kept."""
        cached = self._folder / org / image_hash
        if cached.exists():
            return
        try:
            temp = self._temporary(cached)
            temp.unlink()
            try:
                os.link(source, temp)
            except OSError:  # (another filesystem, or no hard links there)
                shutil.copyfile(source, temp)
        except OSError as exc:
            log.warning("could not keep %s in the read cache: %s", image_hash, exc)
            return
        with self._lock:
            self._kept = [f for f in self._kept if not f.done()]
            self._kept.append(self._settling.submit(self._settle, temp, cached))

    def _settle(self, temp: Path, cached: Path) -> None:
        try:
            with temp.open("rb") as data:
                os.fsync(data.fileno())
            os.utime(temp)  # (now the most recently kept)
            os.replace(temp, cached)
            self._grew(cached.stat().st_size)
        except OSError as exc:
            log.warning("could not keep %s in the read cache: %s", cached.name, exc)
        finally:
            temp.unlink(missing_ok=True)

    def wait_kept(self) -> None:
        """Wait until what :meth:`keep` was given is in place (or given up)."""
        with self._lock:
            pending = list(self._kept)
        for future in pending:
            future.result()

    def discard(self, org: str, image_hash: str) -> None:
        """Forget the original of ``image_hash`` (its blob was deleted)."""
        (self._folder / org / image_hash).unlink(missing_ok=True)

    def _temporary(self, cached: Path) -> Path:
        cached.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=cached.parent, prefix=_PART)
        os.close(handle)
        return Path(temp)

    def _grew(self, size: int) -> None:
        with self._lock:
            self._bytes += size
            self._additions += 1
            due = self._bytes > self._max_bytes or self._additions % _RECOUNT_EVERY == 0
        if due:
            self._evict()

    def _files(self) -> list[tuple[float, int, Path]]:
        """(last opened, size, path) of every named copy; temporaries left by a process that
        stopped (an hour old) are removed."""
        found = []
        for path in self._folder.rglob("*"):
            try:
                info = path.stat()
            except FileNotFoundError:  # (evicted meanwhile by another process)
                continue
            if not path.is_file():
                continue
            if path.name.startswith(_PART):  # (being written, here or by another process)
                if time.time() - info.st_mtime > _STALE_PART_SECONDS:
                    path.unlink(missing_ok=True)
                continue
            found.append((info.st_mtime, info.st_size, path))
        return found

    def _evict(self) -> None:
        files = sorted(self._files())
        total = sum(size for _, size, _ in files)
        # (when over the bound, down to 90% of it: a full cache is not counted at every addition)
        target = self._max_bytes if total <= self._max_bytes else self._max_bytes * 9 // 10
        for _, size, path in files:
            if total <= target:
                break
            path.unlink(missing_ok=True)
            total -= size
        with self._lock:
            self._bytes = total

    def close(self) -> None:
        """Finish keeping; remove the folder if it was a temporary one."""
        self._settling.shutdown(wait=True)
        if self._own:
            shutil.rmtree(self._folder, ignore_errors=True)
