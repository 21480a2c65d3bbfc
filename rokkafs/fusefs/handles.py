"""Open files of the mount: one handle per ``open``/``create``, indexed by number and path."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from typing import BinaryIO

from rokkafs.provider.nodes import Seen
from rokkafs.provider.uploads import Upload

__all__ = ["Handle", "HandleTable"]


@dataclass
class Handle:
    """An open file. ``upload`` holds written bytes until the commit in ``flush``; ``reader``
    is opened lazily on the first read (``open`` never downloads); ``seen``: what the lookup
    before ``create`` found at the path, for the first commit."""

    path: str
    writable: bool
    upload: Upload | None = None
    reader: BinaryIO | None = None
    dirty: bool = False
    mtime: float | None = None
    failed: int = 0  # the errno of a failed write: the file must not be committed
    staged_xattrs: dict[str, bytes] = field(default_factory=dict)
    seen: Seen | None = None
    lock: threading.RLock = field(default_factory=threading.RLock)


class HandleTable:
    """Thread-safe table of open handles."""

    def __init__(self) -> None:
        self._handles: dict[int, Handle] = {}
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()

    def add(self, handle: Handle) -> int:
        with self._lock:
            number = next(self._numbers)
            self._handles[number] = handle
            return number

    def get(self, number: int | None) -> Handle | None:
        with self._lock:
            return None if number is None else self._handles.get(number)

    def pop(self, number: int) -> Handle | None:
        with self._lock:
            return self._handles.pop(number, None)

    def for_path(self, path: str) -> list[Handle]:
        """Open handles of a path, dirty writers first."""
        with self._lock:
            found = [h for h in self._handles.values() if h.path == path]
        return sorted(found, key=lambda h: not h.dirty)

    def renamed(self, old: str, new: str) -> None:
        with self._lock:
            for handle in self._handles.values():
                if handle.path == old:
                    handle.path = new
