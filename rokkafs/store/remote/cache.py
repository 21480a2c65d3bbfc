"""The bounded local copy of downloaded originals that a RemoteStore reads from (a mount on a
remote store reads files in pieces: each original is fetched once, then read locally)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, BinaryIO

__all__ = ["DownloadCache"]


class DownloadCache:
    """Downloaded originals under a folder (a temporary one unless given), the least
    recently opened removed first once they exceed ``max_bytes``."""

    def __init__(self, folder: Path | None, max_bytes: int) -> None:
        self._own = folder is None
        self._folder = folder or Path(tempfile.mkdtemp(prefix="rokkafs-cache-"))
        self._max_bytes = max_bytes

    def open(self, org: str, image_hash: str, fetch: Callable[[IO[bytes]], None]) -> BinaryIO:
        """The original of ``image_hash``, fetched (``fetch`` writes its bytes) if missing."""
        cached = self._folder / org / image_hash
        if not cached.exists():
            cached.parent.mkdir(parents=True, exist_ok=True)
            handle, temp = tempfile.mkstemp(dir=cached.parent, prefix=".part-")
            try:
                with os.fdopen(handle, "wb") as out:
                    fetch(out)
                os.replace(temp, cached)
            finally:
                Path(temp).unlink(missing_ok=True)
            self._evict()
        os.utime(cached)
        return cached.open("rb")

    def _evict(self) -> None:
        files = [p for p in self._folder.rglob("*") if p.is_file()]
        total = sum(p.stat().st_size for p in files)
        for path in sorted(files, key=lambda p: p.stat().st_mtime):
            if total <= self._max_bytes:
                break
            total -= path.stat().st_size
            path.unlink(missing_ok=True)

    def close(self) -> None:
        """Remove the folder if it was a temporary one."""
        if self._own:
            shutil.rmtree(self._folder, ignore_errors=True)
