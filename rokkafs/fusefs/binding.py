"""The one import shim for the FUSE binding: mfusepy (libfuse 3 and 2) preferred, the original
fusepy (libfuse 2) as fallback. Both expose the fusepy API that rokkafs codes against.

libfuse 3 is picked when both libraries are installed (``FUSE_LIBRARY_NAME=fuse3`` unless
the caller set it): it brings 1 MiB writes, atomic ``O_TRUNC`` and partial ``utimensat``.
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import cast

__all__ = ["fuse_major", "load"]


def load() -> ModuleType:
    """Import and return the binding module (``ROKKAFS_FUSE_BINDING=fusepy`` forces fusepy).

    Raises:
        ImportError: neither binding (or no libfuse) is installed.
    """
    wanted = os.environ.get("ROKKAFS_FUSE_BINDING", "mfusepy")
    if wanted == "mfusepy":
        os.environ.setdefault("FUSE_LIBRARY_NAME", "fuse3")
        try:
            import mfusepy

            return cast(ModuleType, mfusepy)
        except (ImportError, OSError):
            pass
    import fuse

    return cast(ModuleType, fuse)


def fuse_major(module: ModuleType) -> int:
    """The libfuse major version the binding talks to (fusepy: always 2)."""
    return int(getattr(module, "fuse_version_major", 2))
