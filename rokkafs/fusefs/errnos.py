"""The one place the mount maps errors to errno.

mfusepy ignores ``Operations.__call__``, so the mapping is a decorator on each operation: a
rokkafs error leaves with its own errno (a refusal other than "not found" or "exists" is also
logged with its reason at warning level, since the caller sees only the errno), an
``OSError`` with its errno (EIO if it has none), anything unexpected is logged and leaves as
EIO.
"""

from __future__ import annotations

import errno
import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from rokkafs.errors import AlreadyExists, NotFound, RokkaFSError

__all__ = ["translated"]

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])


def translated(error_type: type[OSError]) -> Callable[[F], F]:
    """Wrap an operation so every exception leaves as ``error_type(errno)``."""

    def decorate(method: F) -> F:
        @functools.wraps(method)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return method(*args, **kwargs)
            except RokkaFSError as exc:
                if not isinstance(exc, NotFound | AlreadyExists):  # (lookups and probes)
                    log.warning("%s refused: %s", method.__name__, exc.message)
                raise error_type(exc.errno) from exc
            except OSError as exc:
                if isinstance(exc, error_type):
                    raise
                code = exc.errno if isinstance(exc.errno, int) and exc.errno > 0 else errno.EIO
                raise error_type(code) from exc
            except Exception as exc:
                log.exception("unexpected error in %s", method.__name__)
                raise error_type(errno.EIO) from exc

        return wrapper  # type: ignore[return-value]

    return decorate
