"""A minimal passthrough FUSE filesystem (mfusepy), the baseline of bench/fuse.py.

Run: python bench/passthrough.py SOURCE_DIR MOUNTPOINT
"""

from __future__ import annotations

import errno
import os
import sys
from typing import Any

os.environ.setdefault("FUSE_LIBRARY_NAME", "fuse3")
import mfusepy as fuse


class Passthrough(fuse.Operations):  # type: ignore[misc]
    use_ns = True

    def __init__(self, root: str) -> None:
        self.root = root

    def _full(self, path: str) -> str:
        return os.path.join(self.root, path.lstrip("/"))

    def getattr(self, path: str, fh: int | None = None) -> dict[str, Any]:
        try:
            st = os.lstat(self._full(path))
        except FileNotFoundError:
            raise fuse.FuseOSError(errno.ENOENT) from None
        keys = ("st_mode", "st_nlink", "st_size", "st_uid", "st_gid")
        attrs: dict[str, Any] = {k: getattr(st, k) for k in keys}
        attrs.update(st_mtime=st.st_mtime_ns, st_atime=st.st_atime_ns, st_ctime=st.st_ctime_ns)
        return attrs

    def readdir(self, path: str, fh: int) -> list[str]:
        return [".", "..", *os.listdir(self._full(path))]

    def open(self, path: str, flags: int) -> int:
        return os.open(self._full(path), flags)

    def create(self, path: str, mode: int, flags: int = 0) -> int:
        return os.open(self._full(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)

    def read(self, path: str, size: int, offset: int, fh: int) -> bytes:
        return os.pread(fh, size, offset)

    def write(self, path: str, data: bytes, offset: int, fh: int) -> int:
        return os.pwrite(fh, data, offset)

    def truncate(self, path: str, length: int, fh: int | None = None) -> None:
        os.truncate(self._full(path), length)

    def flush(self, path: str, fh: int) -> None:
        os.fsync(fh)

    def release(self, path: str, fh: int) -> None:
        os.close(fh)

    def mkdir(self, path: str, mode: int) -> None:
        os.mkdir(self._full(path), mode)

    def rename(self, old: str, new: str) -> None:
        os.rename(self._full(old), self._full(new))

    def unlink(self, path: str) -> None:
        os.unlink(self._full(path))

    def utimens(self, path: str, times: Any = None) -> None:
        os.utime(self._full(path), ns=times)

    def chmod(self, path: str, mode: int) -> None:
        os.chmod(self._full(path), mode)

    def chown(self, path: str, uid: int, gid: int) -> None:
        os.chown(self._full(path), uid, gid)


if __name__ == "__main__":
    fuse.FUSE(Passthrough(sys.argv[1]), sys.argv[2], foreground=True, kernel_cache=True)
