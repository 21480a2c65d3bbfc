"""Temporary files of copying tools, held by the mount until they are renamed.

rsync writes each file as ``.<name>.XXXXXX`` next to its target, closes it, sets its times and
renames it over ``<name>``. Stored at once, such a temporary would become a side file (fsynced,
recorded) only to be turned into an image a moment later. The mount keeps the finished staging
file instead, and the rename commits it once, at its real name.

A held file is visible through this mount (``getattr``, listings, times, renames, deletes). It
is stored as an ordinary side file when it is not renamed within :data:`HOLD_SECONDS`, before
any other operation touches it, and when the mount ends. Only names of that temporary shape
are held; a held file lost with a crashed mount is one its tool would write again.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from rokkafs.staging import Staged

__all__ = ["HOLD_SECONDS", "HeldFile", "PendingFiles", "is_temporary_name"]

HOLD_SECONDS = 5.0
_TEMPORARY = re.compile(r"^\..+\.[A-Za-z0-9]{6}$")  # rsync: .name.XXXXXX


def is_temporary_name(path: str) -> bool:
    """Whether the file name has the shape of a copying tool's temporary file."""
    return _TEMPORARY.match(path.rsplit("/", 1)[-1]) is not None


@dataclass(frozen=True, slots=True)
class HeldFile:
    """A finished temporary file waiting for its rename."""

    path: str
    staged: Staged
    mtime: float
    since: float


class PendingFiles:
    """The held files of one mount. ``store`` writes one down as a side file (at its path);
    it runs under the table's lock, so a file is either held or stored, never in between."""

    def __init__(self, store: Callable[[HeldFile], None]) -> None:
        self._store = store
        self._held: dict[str, HeldFile] = {}
        self._lock = threading.RLock()

    def hold(self, path: str, staged: Staged, mtime: float) -> None:
        with self._lock:
            replaced = self._held.pop(path, None)
            self._held[path] = HeldFile(path, staged, mtime, time.monotonic())
        if replaced is not None:
            replaced.staged.path.unlink(missing_ok=True)

    def get(self, path: str) -> HeldFile | None:
        with self._lock:
            return self._held.get(path)

    def below(self, folder: str) -> list[HeldFile]:
        """The held files directly in a folder."""
        prefix = folder.rstrip("/") + "/"
        with self._lock:
            return [
                h
                for p, h in self._held.items()
                if p.startswith(prefix) and "/" not in p[len(prefix) :]
            ]

    def set_mtime(self, path: str, mtime: float) -> bool:
        """Change a held file's time; False if the path is not held."""
        with self._lock:
            held = self._held.get(path)
            if held is None:
                return False
            self._held[path] = HeldFile(held.path, held.staged, mtime, held.since)
            return True

    def take(self, path: str) -> HeldFile | None:
        """Stop holding a file and hand it over (to a rename or a delete)."""
        with self._lock:
            return self._held.pop(path, None)

    def settle(self, path: str) -> None:
        """Store the file at ``path`` as a side file if it is held (before an operation the
        table does not handle)."""
        with self._lock:
            held = self._held.pop(path, None)
            if held is not None:
                self._store(held)

    def settle_due(self, *, older_than: float = HOLD_SECONDS) -> None:
        """Store every file held longer than ``older_than`` seconds (0: all of them)."""
        with self._lock:
            cutoff = time.monotonic() - older_than
            for path in [p for p, h in self._held.items() if h.since <= cutoff]:
                self._store(self._held.pop(path))
