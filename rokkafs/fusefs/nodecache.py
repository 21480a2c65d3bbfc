"""A short-lived cache of the mount's metadata, filled by listings, emptied by its own writes."""

from __future__ import annotations

import threading
import time

from rokkafs.provider import Node

__all__ = ["NodeCache"]


class NodeCache:
    """Path → node (or None: nothing there), each entry a few seconds long.

    Forgetting a path also forgets its parent folder; forgetting an organization or anything
    directly in one also drops every cached miss, so a new folder or file shows at once.
    """

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._nodes: dict[str, tuple[float, Node | None]] = {}
        self._lock = threading.Lock()

    def get(self, path: str) -> tuple[bool, Node | None]:
        with self._lock:
            hit = self._nodes.get(path)
        if hit is None or hit[0] < time.monotonic():
            return False, None
        return True, hit[1]

    def put(self, path: str, node: Node | None) -> None:
        with self._lock:
            self._nodes[path] = (time.monotonic() + self._seconds, node)

    def forget(self, *paths: str) -> None:
        with self._lock:
            for path in paths:
                self._nodes.pop(path, None)
                parent = path.rsplit("/", 1)[0] or "/"
                self._nodes.pop(parent, None)
            if any(p.count("/") <= 2 for p in paths):
                self._nodes = {k: v for k, v in self._nodes.items() if v[1] is not None}
