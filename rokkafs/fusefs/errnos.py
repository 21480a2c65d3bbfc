"""The one place the mount maps errors to errno.

mfusepy ignores ``Operations.__call__``, so the mapping is a decorator on each operation: a
rokkafs error leaves with its own errno (a refusal other than "not found" or "exists" is also
logged with its reason at warning level, since the caller sees only the errno), an
``OSError`` with its errno (EIO if it has none), anything unexpected is logged and leaves as
EIO.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from rokkafs.errors import AlreadyExists, NotFound, RokkaFSError

__all__ = ["as_fuse_error"]

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])


def as_fuse_error(error_type: type[OSError], operation: str, exc: BaseException) -> OSError:
    """The binding's error (``error_type(errno)``) an exception of an operation leaves as."""
    if isinstance(exc, error_type):
        return exc
    if isinstance(exc, RokkaFSError):
        if not isinstance(exc, NotFound | AlreadyExists):  # (lookups and probes)
            log.warning("%s refused: %s", operation, exc.message)
        return error_type(exc.errno)
    if isinstance(exc, OSError):
        return error_type(exc.errno if isinstance(exc.errno, int) and exc.errno > 0 else errno.EIO)
    log.error("unexpected error in %s", operation, exc_info=exc)
    return error_type(errno.EIO)
