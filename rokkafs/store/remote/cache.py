"""The bounded local copy of originals that a RemoteStore, or a node whose blobs are in a
bucket, reads from: each is fetched once (or kept as it was uploaded), then read locally."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, BinaryIO

__all__ = ["DownloadCache"]

log = logging.getLogger(__name__)

# (other processes may fill the same folder: the size on disk is counted again this often)
_RECOUNT_EVERY = 64


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
            os.utime(cached)
            return cached.open("rb")
        except FileNotFoundError:  # (not here, or evicted by another process just now)
            return None

    def keep(self, org: str, image_hash: str, source: Path) -> None:
        """Keep a local file's bytes as the original of ``image_hash`` (an upload's, so that
        reading it soon after needs no fetch): a hard link where it can, else a copy. A
        failure only means it is not kept."""
        cached = self._folder / org / image_hash
        try:
            if cached.exists():
                return
            temp = self._temporary(cached)
            try:
                temp.unlink()
                try:
                    os.link(source, temp)
                except OSError:  # (another filesystem, or no hard links there)
                    shutil.copyfile(source, temp)
                os.replace(temp, cached)
            finally:
                temp.unlink(missing_ok=True)
            self._grew(cached.stat().st_size)
        except OSError as exc:
            log.warning("could not keep %s in the read cache: %s", image_hash, exc)

    def discard(self, org: str, image_hash: str) -> None:
        """Forget the original of ``image_hash`` (its blob was deleted)."""
        (self._folder / org / image_hash).unlink(missing_ok=True)

    def _temporary(self, cached: Path) -> Path:
        cached.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=cached.parent, prefix=".part-")
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
        """(last opened, size, path) of every cached file."""
        found = []
        for path in self._folder.rglob("*"):
            try:
                info = path.stat()
            except FileNotFoundError:  # (evicted meanwhile by another process)
                continue
            if path.is_file():
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
        """Remove the folder if it was a temporary one."""
        if self._own:
            shutil.rmtree(self._folder, ignore_errors=True)
