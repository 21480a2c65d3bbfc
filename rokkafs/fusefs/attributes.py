"""What ``getattr`` and ``statfs`` answer: stat fields of a node, numbers of the filesystem."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path
from typing import Any

from rokkafs.provider import Node

__all__ = ["attributes", "filesystem_stats"]

BLOCK = 4096


def attributes(
    node: Node, owner: tuple[int, int], *, read_only: bool, default_time: float
) -> dict[str, Any]:
    """The stat fields of a node (times in nanoseconds, as the binding's ``use_ns`` wants).

    Files are 0644 and folders 0755 (0444/0555 on a read-only mount); a node without times of
    its own (a folder) shows ``default_time``.
    """
    if node.is_dir:
        mode = stat.S_IFDIR | (0o555 if read_only else 0o755)
    else:
        mode = stat.S_IFREG | (0o444 if read_only else 0o644)
    mtime = int((node.mtime or node.ctime or default_time) * 1e9)
    ctime = int(node.ctime * 1e9) or mtime
    return {
        "st_mode": mode,
        "st_nlink": 2 if node.is_dir else 1,
        "st_size": node.size,
        "st_blocks": (node.size + 511) // 512,
        "st_mtime": mtime,
        "st_atime": mtime,
        "st_ctime": ctime,
        "st_uid": owner[0],
        "st_gid": owner[1],
    }


def filesystem_stats(data_dir: Path) -> dict[str, int]:
    """Real space and file numbers of the disk holding the data directory (``df`` and
    ``df -i`` show them; some programs refuse to write to a filesystem reporting zero free
    space). Each stored image takes about one file there, its blob."""
    usage = shutil.disk_usage(data_dir)
    disk = os.statvfs(data_dir)
    return {
        "f_bsize": BLOCK,
        "f_frsize": BLOCK,
        "f_blocks": usage.total // BLOCK,
        "f_bfree": usage.free // BLOCK,
        "f_bavail": usage.free // BLOCK,
        "f_files": disk.f_files,
        "f_ffree": disk.f_ffree,
        "f_favail": disk.f_favail,
        "f_namemax": 255,
    }
