"""The operations of the filesystem faces, mapped onto the store (the table in
``docs/architecture.md#operations``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import BinaryIO

from rokkafs.errors import AlreadyExists, InvalidInput, Locked, NotFound, NotPermitted
from rokkafs.model import SourceImage
from rokkafs.provider.faces import Faces
from rokkafs.provider.nodes import Node, Seen
from rokkafs.provider.paths import Location, check_name, is_side_name, parse_path
from rokkafs.provider.reading import Reader, image_node
from rokkafs.provider.uploads import Upload
from rokkafs.staging import HandedOver, Staged
from rokkafs.store.base import Store

__all__ = ["SEEN_FRESH_SECONDS", "Writer"]

SEEN_FRESH_SECONDS = 2.0  # (how long what a face saw at a path stands in for a new look)


class Writer:
    """Writing, creating and deleting through the path model (paths resolved by ``reader``)."""

    def __init__(self, reader: Reader, *, clock: Callable[[], float] = time.time) -> None:
        self.reader = reader
        self.store: Store = reader.store
        self.faces: Faces = reader.faces
        self._clock = clock

    # ----------------------------------------------------------------- helpers

    def live_target(self, path: str) -> Location:
        location = parse_path(path)
        check_name(location)
        if location.in_trash:
            raise NotPermitted("nothing can be written into .trash; move things out to restore")
        assert location.org is not None
        self.store.require_organization(location.org)
        return location

    def existing(self, location: Location) -> Node | None:
        try:
            return self.reader.stat_location(location)
        except NotFound:
            return None

    def clear_for(self, location: Location, replacing: SourceImage | None = None) -> None:
        """Make room at a live location: an image there goes to the trash, a side file or
        placeholder is removed; folders are never replaced."""
        node = self.existing(location)
        if node is None:
            return
        if node.is_dir:
            raise AlreadyExists(f"{location.name} is a folder")
        if node.kind == "side":
            assert location.org is not None
            self.faces.delete_file(location.org, location.name)
        elif node.image is not None and (replacing is None or node.image.hash != replacing.hash):
            if node.image.locked:
                raise Locked(f"{location.name} is locked and cannot be replaced")
            self.store.delete_source_image(node.image.organization, node.image.hash)

    # ----------------------------------------------------------------- reading

    def open(self, path: str) -> BinaryIO:
        """Open a file for reading (seekable)."""
        return self.open_node(self.reader.stat(path))

    def open_node(self, node: Node) -> BinaryIO:
        """Open a file already resolved by :meth:`stat` (seekable)."""
        path = f"{node.org}/{node.rel}"
        if node.kind == "side":
            assert node.org is not None
            side = self.faces.get_file(node.org, node.rel)
            if side is None:
                raise NotFound(f"{path} was removed")
            return self.faces.open_file(side)
        if node.image is None:
            raise InvalidInput(f"{path} is a folder")
        if node.in_trash:
            raise NotPermitted("restore the image before reading it")
        return self.store.open_source_image(node.image.organization, node.image.hash)

    def open_found(self, node: Node) -> BinaryIO:
        """Open a file this very request just resolved by :meth:`stat` (the store may read
        the bytes that lookup named without looking again; a node remembered longer, as the
        mount's, goes through :meth:`open_node`, which notices a change)."""
        if node.kind == "image" and node.image is not None and not node.in_trash:
            return self.store.open_image(node.image)
        return self.open_node(node)

    # ----------------------------------------------------------------- writing

    def new_upload(self) -> Upload:
        """Start a write (spooled and hashed; nothing visible until :meth:`commit`)."""
        sync = self.faces.blobs.syncs_staging or self.store.syncs_staging()
        return Upload(self.faces, max_bytes=self.store.config.max_upload_bytes, sync=sync)

    def commit(
        self, path: str, upload: Upload, *, mtime: float | None = None, seen: Seen | None = None
    ) -> Node:
        """Commit a finished write at ``path`` (the upload is consumed either way; ``seen``
        as for :meth:`commit_staged`)."""
        try:
            staged = upload.finish()
        except BaseException:
            upload.discard()
            raise
        return self.commit_staged(path, staged, mtime, seen=seen)

    def commit_staged(
        self, path: str, staged: Staged, mtime: float | None = None, *, seen: Seen | None = None
    ) -> Node:
        """Commit a finished staging file at ``path`` (it is consumed either way); ``seen``:
        what the caller found there just before (not looked up again while fresh)."""
        try:
            return self.commit_at(self.live_target(path), staged, mtime, seen)
        finally:
            staged.path.unlink(missing_ok=True)

    def commit_at(
        self, location: Location, staged: Staged, mtime: float | None, seen: Seen | None = None
    ) -> Node:
        assert location.org is not None
        when = self._clock() if mtime is None else mtime
        if is_side_name(location.basename) or staged.size == 0:
            existing = self.existing(location)  # (a side file must never hide behind an image)
            if existing is not None and existing.kind == "image":
                self.clear_for(location)
            elif existing is not None and existing.is_dir:
                raise AlreadyExists(f"{location.name} is a folder")
            self.faces.put_file(location.org, location.name, staged, when)
            return self.reader.stat_location(location)
        if seen is None or time.monotonic() - seen.at >= SEEN_FRESH_SECONDS:
            seen = Seen(self.existing(location), time.monotonic())
        existing = seen.node
        if existing is not None and existing.is_dir:
            raise AlreadyExists(f"{location.name} is a folder")
        shown = existing.image if existing is not None else None
        # (a duplicate spelling, ``cat~1a2b3c.png``, names the image it shows by its hash)
        replacing = shown.hash if shown is not None and shown.name != location.name else None
        with HandedOver(staged) as data:
            image = self.store.write_source_image(
                location.org, data, name=location.name, replacing=replacing, mtime=mtime
            )
        if existing is not None and existing.kind == "side":
            self.faces.delete_file(location.org, location.name)
        return image_node(location.basename, image, in_trash=False)

    def create_placeholder(self, path: str, *, mtime: float | None = None) -> Node:
        """A 0-byte file (``touch``, LOCK on a new name, Finder's first PUT): no upload."""
        location = self.live_target(path)
        assert location.org is not None
        if self.existing(location) is None:
            when = self._clock() if mtime is None else mtime
            self.faces.put_file(location.org, location.name, None, when)
        return self.reader.stat_location(location)

    def mkdir(self, path: str) -> Node:
        """Create an organization (at the root) or an empty folder."""
        location = parse_path(path)
        if location.org is not None and not location.name and not location.in_trash:
            self.store.create_organization(location.org)
            return self.reader.stat_location(location)
        location = self.live_target(path)
        assert location.org is not None
        if self.existing(location) is not None:
            raise AlreadyExists(f"{location.name} exists already")
        self.faces.add_folder(location.org, location.name)
        return self.reader.stat_location(location)

    def set_mtime(self, path: str, mtime: float) -> Node:
        """Record a modification time (of an image, a side file or a folder; organizations
        and the trash accept and ignore it)."""
        node = self.reader.stat(path)
        if node.image is not None and not node.in_trash:
            image = self.store.set_mtime(node.image.organization, node.image.hash, mtime)
            return image_node(node.name, image, in_trash=False)
        if node.kind == "side":
            assert node.org is not None
            self.faces.set_mtime(node.org, node.rel, mtime)
            return replace(node, mtime=mtime)
        if node.kind == "folder" and not node.in_trash:
            assert node.org is not None
            self.faces.set_folder_mtime(node.org, node.rel, mtime)
            return replace(node, mtime=mtime)
        return node

    # ----------------------------------------------------------------- deleting

    def delete(self, path: str) -> None:
        """Soft-delete an image or a whole folder into the trash; remove a side file.

        Raises:
            NotPermitted: inside ``.trash``, an organization itself.
            Locked: the image (or one below the folder) is locked; nothing changed.
        """
        location = parse_path(path)
        if location.in_trash:
            raise NotPermitted("the trash is emptied by purging, never by deleting")
        if not location.name:
            raise NotPermitted("organizations cannot be deleted through the file faces")
        node = self.reader.stat_location(location)
        assert location.org is not None
        if node.kind == "side":
            self.faces.delete_file(location.org, location.name)
        elif node.image is not None:
            self.store.delete_source_image(location.org, node.image.hash)
        else:
            self._delete_folder(location)

    def _delete_folder(self, location: Location) -> None:
        assert location.org is not None
        images = list(self.reader.images_below(location))
        locked = [i.name for i in images if i.locked]
        if locked:
            raise Locked(f"{locked[0]} is locked: the folder cannot be deleted")
        for image in images:
            self.store.delete_source_image(location.org, image.hash)
        for side in self.faces.files_below(location.org, location.name + "/"):
            self.faces.delete_file(location.org, side.path)
        self.faces.remove_folders(location.org, location.name)
