"""Resolving and listing paths for the mount through its node cache: a name is looked up once
per cache lifetime, a folder listed once fills the cache for every child, and a name a fresh
listing does not show is known absent without asking the store (rsync asks for every
temporary name)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from rokkafs.errors import NotFound, RokkaFSError
from rokkafs.fusefs.nodecache import NodeCache
from rokkafs.provider import Node, Provider
from rokkafs.provider.paths import TRASH, split_spelling

__all__ = ["Lookups"]


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

    def node(self, path: str) -> Node:
        """What is at ``path``.

        Raises:
            NotFound: nothing.
        """
        hit, node = self._cache.get(path)
        if not hit and self._list_on_miss and self._list_parent(path):
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

    def _list_parent(self, path: str) -> bool:
        """List the folder of ``path`` if it is not cached; whether it was listed."""
        parent = path.rsplit("/", 1)[0]
        if not parent or self._cache.listing(parent) is not None:
            return False
        with contextlib.suppress(RokkaFSError):
            self.listing(parent)
            return True
        return False

    def _unlisted(self, path: str) -> bool:
        """Whether a fresh listing shows nothing at ``path``. ``.trash`` and other spellings of
        duplicate names resolve without being listed."""
        name = path.rsplit("/", 1)[-1]
        if name == TRASH or split_spelling(name) is not None:
            return False
        return self._cache.absent(path)
