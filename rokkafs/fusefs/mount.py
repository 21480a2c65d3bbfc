"""``rokkafs mount``: the FUSE mount over the path model."""

from __future__ import annotations

import errno
import logging
import os
import subprocess
from pathlib import Path
from typing import Any

from rokkafs.db.changes import ChangeFeed
from rokkafs.fusefs.binding import fuse_major, load
from rokkafs.fusefs.operations import build_operations
from rokkafs.provider import Provider

__all__ = ["mount", "unmount"]

log = logging.getLogger(__name__)
RENAME_NOREPLACE, RENAME_EXCHANGE = 1, 2
_READDIR_PLUS, _FILL_DIR_PLUS = 1, 2  # (libfuse 3's readdir flag and filler flag)


def _options(
    major: int, *, foreground: bool, read_only: bool, allow_other: bool, shared: bool
) -> dict[str, Any]:
    kernel_seconds = 1 if shared else 5  # (shared: other nodes' changes show within 1 s)
    options: dict[str, Any] = {
        "foreground": foreground,
        "fsname": "rokkafs",
        "auto_cache": True,
        "attr_timeout": kernel_seconds,
        "entry_timeout": kernel_seconds,
        "negative_timeout": 1,
    }
    if read_only:
        options["ro"] = True
    if allow_other:
        options["allow_other"] = True
    if major == 2:
        options.update(big_writes=True, max_write=131072)
    else:
        options["max_threads"] = 32  # slow reads of one process must not stall the others
        # every worker stays (it keeps its Python thread state); given explicitly, libfuse
        # 3.14 no longer warns about its own "unset" value on every mount
        options["max_idle_threads"] = 32
    return options


def mount(
    provider: Provider,
    mountpoint: Path,
    data_dir: Path,
    *,
    foreground: bool = True,
    read_only: bool = False,
    allow_other: bool = False,
    list_on_miss: bool = False,
    changes_url: str | None = None,
) -> None:
    """Mount and serve until unmounted (SIGINT/SIGTERM unmount cleanly). ``list_on_miss``
    (for a remote store): a lookup in a folder not listed yet lists the folder instead.
    ``changes_url`` (a PostgreSQL index shared with other nodes): their changes are pushed
    to the mount's caches (:class:`~rokkafs.db.changes.ChangeFeed`), and the kernel keeps
    attributes and names for 1 s instead of 5, so they show within about a second.

    Raises:
        ImportError: no FUSE binding or libfuse is installed.
    """
    fuse = load()
    major = fuse_major(fuse)
    operations = build_operations(
        fuse, provider, data_dir, read_only=read_only, list_on_miss=list_on_miss
    )

    class SafeFUSE(fuse.FUSE):  # type: ignore[name-defined]
        """mfusepy on libfuse 3 drops rename flags: refuse RENAME_EXCHANGE instead of
        silently overwriting, honour RENAME_NOREPLACE. Non-``user.`` xattrs: ENOTSUP at once."""

        def rename_fuse_3(self, old: bytes, new: bytes, flags: int) -> int:
            if flags & RENAME_EXCHANGE or flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE):
                return -errno.EINVAL
            if flags & RENAME_NOREPLACE:
                try:
                    operations.getattr(new.decode("utf-8", "surrogateescape"))
                    return -errno.EEXIST
                except OSError:
                    pass
            return int(super().rename_fuse_3(old, new, 0))

        def readdir_fuse_3(
            self, path: bytes, buf: Any, filler: Any, offset: int, fip: Any, flags: int
        ) -> int:
            """With FUSE_READDIR_PLUS asked, hand the kernel every entry's attributes too
            (FUSE_FILL_DIR_PLUS), so ``ls -l`` needs no lookup per file (mfusepy passes only
            names and modes)."""
            if not flags & _READDIR_PLUS:
                return int(super().readdir_fuse_3(path, buf, filler, offset, fip, flags))
            entries = operations.readdir(path.decode("utf-8", "surrogateescape"), fip.contents.fh)
            for entry in entries:
                name, attrs = (entry, None) if isinstance(entry, str) else entry[:2]
                st = fuse.c_stat()
                if attrs:
                    fuse.set_st_attrs(st, attrs, use_ns=True)
                plus = _FILL_DIR_PLUS if attrs and "st_nlink" in attrs else 0
                encoded = name.encode("utf-8", "surrogateescape")
                if filler(buf, encoded, st if attrs else None, 0, plus) != 0:
                    break
            return 0

        def getxattr(self, path: bytes, name: bytes, *args: Any) -> int:
            # ls -l asks for security.selinux and system.posix_acl_access: answer names outside
            # user. before any decoding or exception handling, with ENOTSUP (no labels, no
            # ACLs here), which ls remembers for the filesystem instead of asking every file
            if not name.startswith(b"user."):
                return -errno.ENOTSUP
            return int(super().getxattr(path, name, *args))

    options = _options(
        major,
        foreground=foreground,
        read_only=read_only,
        allow_other=allow_other,
        shared=changes_url is not None,
    )
    feed = None
    if changes_url is not None:
        feed = ChangeFeed(
            changes_url, operations.cache.invalidate, operations.cache.clear, skip_own=True
        )
        if not feed.listening.wait(10):
            log.warning("not listening for other nodes' changes yet; retrying")
    log.info("mounting %s (libfuse %d, %s)", mountpoint, major, fuse.__name__)
    try:
        SafeFUSE(operations, str(mountpoint), **options)
    except RuntimeError as exc:
        # libfuse's loop ends with a non-zero status when SIGINT/SIGTERM stopped it; that is a
        # clean stop as long as the mount is gone
        if os.path.ismount(mountpoint):
            raise
        log.info("unmounted %s (%s)", mountpoint, exc)
    finally:
        if feed is not None:
            feed.stop()


def unmount(mountpoint: Path) -> None:
    """Unmount (lazily, so a busy mount never wedges the caller)."""
    for tool in ("fusermount3", "fusermount"):
        try:
            subprocess.run([tool, "-u", "-z", str(mountpoint)], check=True, capture_output=True)
            return
        except FileNotFoundError:
            continue
    subprocess.run(["umount", "-l", str(mountpoint)], check=True, capture_output=True)
