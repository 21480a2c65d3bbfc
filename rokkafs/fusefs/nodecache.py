"""A short-lived cache of the mount's metadata, filled by listings, emptied by its own writes."""

from __future__ import annotations

import stat
import threading
import time
from collections.abc import Iterable
from typing import Any

from rokkafs.provider import Node
from rokkafs.provider.nodes import Seen

__all__ = ["NodeCache"]


class NodeCache:
    """Path → node (or None: nothing there) and folder path → readdir entries, each entry a
    few seconds long.

    Forgetting a path also forgets its parent folder and the listings of the path, its parent
    and everything below it; forgetting an organization or anything directly in one also
    drops every cached miss, so a new folder or file shows at once.
    """

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._nodes: dict[str, tuple[float, Node | None]] = {}
        # folder -> (expires, readdir entries, the names in them)
        self._listings: dict[str, tuple[float, list[Any], frozenset[str]]] = {}
        self._lock = threading.Lock()
        # (advanced by every change: a fill that read the store before a change is dropped,
        # so what another node changed meanwhile is not cached stale)
        self.generation = 0

    def listing(self, path: str) -> list[Any] | None:
        """The cached readdir entries of a folder, if fresh."""
        with self._lock:
            hit = self._listings.get(path)
        if hit is None or hit[0] < time.monotonic():
            return None
        return hit[1]

    def put_listing(
        self, path: str, entries: list[Any], nodes: dict[str, Node], since: int | None = None
    ) -> None:
        """Remember a folder's readdir entries and the nodes of its children, read when the
        cache was at generation ``since`` (None: just made here)."""
        expires = time.monotonic() + self._seconds
        names = frozenset(child.rsplit("/", 1)[-1] for child in nodes)
        with self._lock:
            if since is not None and since != self.generation:
                return
            self._listings[path] = (expires, entries, names)
            for child, node in nodes.items():
                self._nodes[child] = (expires, node)

    def get(self, path: str) -> tuple[bool, Node | None]:
        with self._lock:
            hit = self._nodes.get(path)
        if hit is None or hit[0] < time.monotonic():
            return False, None
        return True, hit[1]

    def put(self, path: str, node: Node | None, since: int | None = None) -> None:
        with self._lock:
            if since is None or since == self.generation:
                self._nodes[path] = (time.monotonic() + self._seconds, node)

    def absent(self, path: str) -> bool:
        """Whether a fresh listing of the parent folder shows that nothing is at ``path``."""
        parent, _, name = path.rpartition("/")
        parent = parent or "/"
        with self._lock:
            listing = self._listings.get(parent)
        if listing is None or listing[0] < time.monotonic():
            return False
        return name not in listing[2]

    def seen(self, path: str, *, listed: bool = True) -> Seen | None:
        """What the cache knows is at ``path`` (a node, or nothing), with when it learnt it;
        None when it knows nothing fresh. ``listed``: whether the parent's listing shows
        every name that resolves at ``path`` (not so for ``.trash`` and other spellings)."""
        now = time.monotonic()
        parent, _, name = path.rpartition("/")
        with self._lock:
            hit = self._nodes.get(path)
            listing = self._listings.get(parent or "/")
        if hit is not None and hit[0] >= now:
            return Seen(hit[1], hit[0] - self._seconds)
        if listed and listing is not None and listing[0] >= now and name not in listing[2]:
            return Seen(None, listing[0] - self._seconds)
        return None

    def settle(self, path: str, node: Node) -> None:
        """The mount itself just put ``node`` at ``path``: remember it and add it to the
        parent's cached listing (the parent's node stays: a write never changes a folder's
        attributes)."""
        parent, _, name = path.rpartition("/")
        parent = parent or "/"
        expires = time.monotonic() + self._seconds
        with self._lock:
            self._nodes[path] = (expires, node)
            listing = self._listings.get(parent)
            if listing is not None and name not in listing[2]:
                entry = (name, {"st_mode": stat.S_IFDIR if node.is_dir else stat.S_IFREG}, 0)
                self._listings[parent] = (listing[0], [*listing[1], entry], listing[2] | {name})

    def drop(self, path: str) -> None:
        """Forget what is known of ``path`` alone (a file this mount holds or is writing, which
        no listing shows)."""
        with self._lock:
            self._nodes.pop(path, None)

    def forget(self, *paths: str) -> None:
        with self._lock:
            self.generation += 1
            for path in paths:
                self._nodes.pop(path, None)
                parent = path.rsplit("/", 1)[0] or "/"
                self._nodes.pop(parent, None)
                self._listings.pop(parent, None)
                below = path.rstrip("/") + "/"
                for folder in [f for f in self._listings if f == path or f.startswith(below)]:
                    del self._listings[folder]
            if any(p.count("/") <= 2 for p in paths):
                self._nodes = {k: v for k, v in self._nodes.items() if v[1] is not None}

    def invalidate(self, changed: Iterable[str]) -> None:
        """Other processes or nodes changed these paths (``org/name``): forget the listings
        of every folder above each (a new file may make new folders), every node in the
        folder it is in (duplicate spellings and cut names show there under other names) and
        every cached miss, and the folders above (one may have lost its last file)."""
        changed = set(changed)
        folders: set[str] = set()
        parents: set[str] = set()
        for path in changed:
            parts = path.strip("/").split("/")
            above = ["/" + "/".join(parts[:depth]) for depth in range(1, len(parts))] or ["/"]
            folders.update(above)
            parents.add(above[-1])
        if "*" in changed:  # (a path too long to announce)
            self.clear()
            return
        with self._lock:
            self.generation += 1
            for folder in folders:
                self._listings.pop(folder, None)
            self._nodes = {
                path: hit
                for path, hit in self._nodes.items()
                if hit[1] is not None
                and path not in folders
                and (path.rsplit("/", 1)[0] or "/") not in parents
            }

    def clear(self) -> None:
        """Forget everything (changes may have been missed)."""
        with self._lock:
            self.generation += 1
            self._nodes.clear()
            self._listings.clear()
