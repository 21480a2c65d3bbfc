"""Resolving and listing paths for the mount through its node cache: a name is looked up once
per cache lifetime, a folder listed once fills the cache for every child, and a name a fresh
listing does not show is known absent without asking the store (rsync asks for every
temporary name). A burst of lookups missing in one folder (``find``, ``rsync``, a ``stat`` of
each file) lists it: :data:`LIST_AFTER_MISSES` lookups within :data:`LIST_WITHIN_SECONDS`
cost more than one listing."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

from rokkafs.errors import NotFound, RokkaFSError
from rokkafs.fusefs.nodecache import NodeCache
from rokkafs.provider import Node, Provider
from rokkafs.provider.nodes import Seen
from rokkafs.provider.paths import TRASH, split_spelling

__all__ = ["LIST_AFTER_MISSES", "LIST_WITHIN_SECONDS", "Lookups"]

# (missed lookups in one folder within LIST_WITHIN_SECONDS after which it is listed instead: a
# burst of lookups, as find, rsync or a stat of every file make, costs more than one listing)
LIST_AFTER_MISSES = 32
LIST_WITHIN_SECONDS = 2.0


class Lookups:
    """``paths`` seen through ``cache``; listings carry every entry's ``attributes`` (the
    kernel gets them with readdirplus). ``list_on_miss`` (a remote store): a lookup in a
    folder not listed yet lists the folder, as one listing beats a lookup per name."""

    def __init__(
        self,
        paths: Provider,
        cache: NodeCache,
        attributes: Callable[[Node], dict[str, Any]],
        *,
        list_on_miss: bool,
    ) -> None:
        self._paths = paths
        self._cache = cache
        self._attributes = attributes
        self._list_on_miss = list_on_miss
        self._misses: dict[str, tuple[int, float]] = {}  # (folder -> misses, since when)
        self._misses_lock = threading.Lock()

    def node(self, path: str) -> Node:
        """What is at ``path``.

        Raises:
            NotFound: nothing.
        """
        hit, node = self._cache.get(path)
        if not hit and self._time_to_list(path) and self._list_parent(path):
            hit, node = self._cache.get(path)
        if not hit and self._unlisted(path):
            hit, node = True, None
        if not hit:
            since = self._cache.generation
            try:
                node = self._paths.stat(path)
            except NotFound:
                node = None
            self._cache.put(path, node, since)
        if node is None:
            raise NotFound(f"nothing at {path}")
        return node

    def listing(self, path: str) -> list[Any]:
        """The readdir entries of the folder at ``path`` (``.``, ``..`` and every child)."""
        entries = self._cache.listing(path)
        if entries is not None:
            return entries
        base = path.rstrip("/")
        entries = [".", ".."]
        nodes: dict[str, Node] = {}
        since = self._cache.generation
        for child in self._paths.children(path):
            nodes[f"{base}/{child.name}"] = child
            entries.append((child.name, self._attributes(child), 0))
        self._cache.put_listing(path, entries, nodes, since)
        return entries

    def _time_to_list(self, path: str) -> bool:
        """Count a missed lookup in the folder of ``path``; whether it completes a burst after
        which the folder is listed (one caller: the others keep looking up while it lists)."""
        if self._list_on_miss:
            return True
        parent, now = path.rsplit("/", 1)[0], time.monotonic()
        with self._misses_lock:
            if len(self._misses) > 4096:  # (bounded: counts of folders long passed go)
                self._misses.clear()
            count, since = self._misses.get(parent, (0, now))
            if now - since > LIST_WITHIN_SECONDS:  # (a lookup now and then: no burst)
                count, since = 0, now
            if count + 1 >= LIST_AFTER_MISSES:
                self._misses.pop(parent, None)
                return True
            self._misses[parent] = (count + 1, since)
            return False

    def _list_parent(self, path: str) -> bool:
        """List the folder of ``path`` if it is not cached; whether it was listed."""
        parent = path.rsplit("/", 1)[0]
        if not parent or self._cache.listing(parent) is not None:
            return False
        with contextlib.suppress(RokkaFSError):
            self.listing(parent)
            return True
        return False

    def seen(self, path: str) -> Seen | None:
        """What the cache knows is at ``path``, and since when (None: nothing fresh)."""
        return self._cache.seen(path, listed=_listed(path))

    def _unlisted(self, path: str) -> bool:
        """Whether a fresh listing shows nothing at ``path``."""
        return _listed(path) and self._cache.absent(path)


def _listed(path: str) -> bool:
    """Whether a listing shows what resolves at ``path``: ``.trash`` and other spellings of
    duplicate names resolve without being listed."""
    name = path.rsplit("/", 1)[-1]
    return name != TRASH and split_spelling(name) is None
