"""The path model both faces use, composed of its three parts: a :class:`Reader` resolves and
lists paths, a :class:`Writer` writes, creates and deletes, a :class:`Mover` moves and copies
(``docs/architecture.md#path-model``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import BinaryIO

from rokkafs.provider.faces import Faces
from rokkafs.provider.nodes import Node, Seen
from rokkafs.provider.reading import Reader
from rokkafs.provider.transfers import Mover
from rokkafs.provider.uploads import Upload
from rokkafs.provider.writing import Writer
from rokkafs.staging import Staged
from rokkafs.store.base import Store

__all__ = ["Provider"]


class Provider:
    """Paths in, store operations out. Thread-safe as far as the store is; operations on
    different paths do not interfere."""

    def __init__(
        self, store: Store, faces: Faces, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.store, self.faces = store, faces
        self.reader = Reader(store, faces)
        self.writer = Writer(self.reader, clock=clock)
        self.mover = Mover(self.reader, self.writer)

    # ----------------------------------------------------------------- reading

    def stat(self, path: str) -> Node:
        """What is at ``path`` (NotFound if nothing)."""
        return self.reader.stat(path)

    def children(self, path: str) -> list[Node]:
        """The entries of the folder at ``path``."""
        return self.reader.children(path)

    def open(self, path: str) -> BinaryIO:
        """Open a file for reading (seekable)."""
        return self.writer.open(path)

    def open_node(self, node: Node) -> BinaryIO:
        """Open a file already resolved by :meth:`stat`."""
        return self.writer.open_node(node)

    def open_found(self, node: Node) -> BinaryIO:
        """Open a file this very request just resolved by :meth:`stat`."""
        return self.writer.open_found(node)

    # ----------------------------------------------------------------- writing

    def new_upload(self) -> Upload:
        """Start a write (nothing visible until :meth:`commit`)."""
        return self.writer.new_upload()

    def commit(
        self, path: str, upload: Upload, *, mtime: float | None = None, seen: Seen | None = None
    ) -> Node:
        """Commit a finished write at ``path`` (``seen``: what was there just before)."""
        return self.writer.commit(path, upload, mtime=mtime, seen=seen)

    def commit_staged(
        self, path: str, staged: Staged, mtime: float | None = None, *, seen: Seen | None = None
    ) -> Node:
        """Commit a finished staging file at ``path`` (``seen``: what was there just before)."""
        return self.writer.commit_staged(path, staged, mtime, seen=seen)

    def create_placeholder(self, path: str, *, mtime: float | None = None) -> Node:
        """A 0-byte file (no upload)."""
        return self.writer.create_placeholder(path, mtime=mtime)

    def mkdir(self, path: str) -> Node:
        """Create an organization (at the root) or an empty folder."""
        return self.writer.mkdir(path)

    def set_mtime(self, path: str, mtime: float) -> Node:
        """Record a modification time."""
        return self.writer.set_mtime(path, mtime)

    def delete(self, path: str) -> None:
        """Soft-delete an image or folder into the trash; remove a side file."""
        self.writer.delete(path)

    # ----------------------------------------------------------------- moving

    def move(self, src: str, dst: str, *, overwrite: bool = True) -> Node:
        """Rename or move; out of ``.trash`` restores."""
        return self.mover.move(src, dst, overwrite=overwrite)

    def copy(self, src: str, dst: str, *, overwrite: bool = True) -> Node:
        """Copy a file or folder (across organizations: native store copies)."""
        return self.mover.copy(src, dst, overwrite=overwrite)
