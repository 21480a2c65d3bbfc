"""A short-lived cache of the mount's metadata, filled by listings and lookups, kept right by
the mount's own writes (:meth:`NodeCache.settle`, :meth:`NodeCache.forget`) and by other
processes' changes (:meth:`NodeCache.invalidate`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Any

from rokkafs.model import folders_of
from rokkafs.provider import Node
from rokkafs.provider.nodes import Seen
from rokkafs.provider.paths import TRASH

__all__ = ["NodeCache"]


class NodeCache:
    """Path → node (or None: nothing there) and folder path → readdir entries, each entry a
    few seconds long.

    Forgetting a path also forgets the folders above it (one may have lost its last image)
    and the listings of the path, the folders above and everything below it; forgetting an
    organization or anything directly in one also drops every cached miss, so a new folder or
    file shows at once. Every change of this mount also forgets its organization's ``.trash``
    listings (what was at a path may have gone there); misses below ``.trash`` are not kept.

    A fill (a lookup or a listing) passes the :attr:`generation` it started at: it is dropped
    if anything was forgotten since, or if this mount wrote into the same folder since (it
    may have read the store before that write).
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
        self._forgotten_at = 0  # (the generation of the last change that may touch anything)
        self._written_at: dict[str, int] = {}  # (folder -> generation of a write into it)

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
            if self._stale(path, since):
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
        parent = path.rsplit("/", 1)[0] or "/"
        if node is None and _below_trash(path):
            return
        with self._lock:
            if not self._stale(parent, since):
                self._nodes[path] = (time.monotonic() + self._seconds, node)

    def _stale(self, folder: str, since: int | None) -> bool:
        """Whether a fill of ``folder`` that started at generation ``since`` may have read the
        store before a change (the lock held)."""
        return since is not None and (
            since < self._forgotten_at or since < self._written_at.get(folder, -1)
        )

    def _changed(self, *, folder: str | None = None) -> None:
        """Advance the generation for a write into ``folder``, or a change that may touch
        anything (None) (the lock held)."""
        self.generation += 1
        if folder is None or len(self._written_at) > 4096:  # (bounded)
            self._written_at.clear()
            self._forgotten_at = self.generation
        else:
            self._written_at[folder] = self.generation

    def _forget_trash(self, paths: Iterable[str]) -> None:
        """Drop the ``.trash`` listings of the organizations of ``paths`` (the lock held)."""
        trashes = {_trash_of(path) for path in paths}
        for folder in [f for f in self._listings if _trash_of(f) in trashes and _below_trash(f)]:
            del self._listings[folder]

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

    def settle(self, path: str, node: Node, attributes: dict[str, Any]) -> None:
        """The mount itself just put ``node`` at ``path``: remember it and show it with
        ``attributes`` in the parent's cached listing (the parent's node stays: a write never
        changes a folder's attributes)."""
        parent, _, name = path.rpartition("/")
        parent = parent or "/"
        expires = time.monotonic() + self._seconds
        entry = (name, attributes, 0)
        with self._lock:
            self._changed(folder=parent)
            self._nodes[path] = (expires, node)
            self._forget_trash([path])
            listing = self._listings.get(parent)
            if listing is None:
                return
            if name in listing[2]:
                entries = [entry if _name_of(e) == name else e for e in listing[1]]
            else:
                entries = [*listing[1], entry]
            self._listings[parent] = (listing[0], entries, listing[2] | {name})

    def drop(self, path: str) -> None:
        """Forget what is known of ``path`` alone (a file this mount holds or is writing, which
        no listing shows)."""
        with self._lock:
            self._nodes.pop(path, None)

    def forget(self, *paths: str) -> None:
        with self._lock:
            self._changed()
            self._forget_trash(paths)
            for path in paths:
                self._nodes.pop(path, None)
                for folder in _folders_above(path):
                    self._nodes.pop(folder, None)
                    self._listings.pop(folder, None)
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
            above = _folders_above(path)
            folders.update(above)
            parents.add(above[0])
        if "*" in changed:  # (a path too long to announce)
            self.clear()
            return
        with self._lock:
            self._changed()
            self._forget_trash(changed)
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
            self._changed()
            self._nodes.clear()
            self._listings.clear()


def _folders_above(path: str) -> list[str]:
    """The folders above ``path``, nearest first (the root only above an organization)."""
    return ["/" + folder for folder in reversed(folders_of(path.strip("/")))] or ["/"]


def _trash_of(path: str) -> str:
    """The ``.trash`` folder of the organization ``path`` is in (``org/name`` or ``/org/…``)."""
    return f"/{path.strip('/').split('/', 1)[0]}/{TRASH}"


def _below_trash(path: str) -> bool:
    """Whether ``path`` is an organization's ``.trash`` or below it."""
    parts = path.strip("/").split("/")
    return len(parts) > 1 and parts[1] == TRASH


def _name_of(entry: Any) -> str:
    """The name of a readdir entry (a name, or a tuple of name, attributes and offset)."""
    return entry if isinstance(entry, str) else str(entry[0])
