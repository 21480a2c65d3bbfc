"""What every FUSE operation does around its own work, in one decorator (applied by hand to
each operation of :class:`~rokkafs.fusefs.operations.RokkaOperations`)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from rokkafs.fusefs.errnos import as_fuse_error
from rokkafs.fusefs.names import nfc
from rokkafs.fusefs.threads import keep_thread_state

__all__ = ["fuse_operation"]

F = TypeVar("F", bound=Callable[..., Any])


def fuse_operation(method: F) -> F:
    """A FUSE operation: its thread keeps its Python thread state (:mod:`.threads`), its path
    arguments arrive NFC-normalized (:mod:`.names`), and every exception leaves as the
    binding's error with an errno (``self.fuse_error``; :mod:`.errnos`)."""

    @functools.wraps(method)
    def operation(self: Any, *args: Any, **kwargs: Any) -> Any:
        keep_thread_state()
        try:
            return method(self, *(nfc(a) for a in args), **kwargs)
        except Exception as exc:
            raise as_fuse_error(self.fuse_error, method.__name__, exc) from exc

    return operation  # type: ignore[return-value]
