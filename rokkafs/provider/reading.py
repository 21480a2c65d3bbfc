"""Resolving and listing paths: every path resolves in a constant number of store queries, and
a folder listing is one paged query for its images plus one for its side files."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime

from rokkafs.errors import NotFound
from rokkafs.model import SourceImage
from rokkafs.provider.faces import Faces
from rokkafs.provider.facestate import FaceEntry, SideFile
from rokkafs.provider.nodes import Node, NodeKind
from rokkafs.provider.paths import (
    TRASH,
    Location,
    is_side_name,
    parse_path,
    spelled_names,
    split_spelling,
    visible_basename,
)
from rokkafs.rokka.search import Filter, SearchQuery, SortKey
from rokkafs.store.base import Store
from rokkafs.store.paging import iter_images

__all__ = ["Reader", "folder_node", "image_node", "org_node", "side_node"]

PAGE = 2000
_OLDEST_FIRST = (SortKey("created"),)


def _stamp(value: datetime) -> float:
    return value.timestamp()


PLACEHOLDER_SECONDS = 60.0


def _shown(side: SideFile) -> bool:
    """Whether a side file is there for the faces: always, except a 0-byte placeholder at a
    name that is no side-file name (Finder's and Explorer's first PUT, ``touch``), which only
    stands in for the real bytes those clients send right after: it is gone after
    :data:`PLACEHOLDER_SECONDS`, as rokka keeps no empty image."""
    if not side.placeholder or is_side_name(side.path.rsplit("/", 1)[-1]):
        return True
    return time.time() - side.created < PLACEHOLDER_SECONDS


def org_node(name: str, created: datetime) -> Node:
    stamp = _stamp(created)
    return Node("organization", name, name, mtime=stamp, ctime=stamp)


def image_node(name: str, image: SourceImage, *, in_trash: bool) -> Node:
    return Node(
        "image",
        name,
        image.organization,
        image.name,
        in_trash,
        size=image.size,
        mtime=image.mtime,
        ctime=_stamp(image.created),
        etag=image.binary_hash,
        mimetype=image.mimetype,
        image=image,
    )


def side_node(side: SideFile) -> Node:
    etag = side.blob_id or "da39a3ee5e6b4b0d3255bfef95601890afd80709"  # sha1 of nothing
    name = side.path.rsplit("/", 1)[-1]
    return Node("side", name, side.org, side.path, size=side.size, mtime=side.mtime, etag=etag)


def folder_node(location: Location, mtime: float | None = None) -> Node:
    kind: NodeKind = "trash" if location.in_trash and not location.name else "folder"
    name = location.basename or TRASH
    return Node(kind, name, location.org, location.name, location.in_trash, mtime=mtime or 0.0)


class Reader:
    """The read side of the path model over a store and the faces' own state."""

    def __init__(self, store: Store, faces: Faces) -> None:
        self.store = store
        self.faces = faces

    # ----------------------------------------------------------------- queries

    def images_below(self, location: Location) -> Iterator[SourceImage]:
        """Every image whose name starts with the folder's prefix, oldest first."""
        assert location.org is not None
        filters = (Filter("name", value=location.name + "/", prefix=True),) if location.name else ()
        query = SearchQuery(
            filters=filters,
            sort=_OLDEST_FIRST,
            limit=PAGE,
            deleted=location.in_trash,
            with_total=False,
        )
        yield from iter_images(self.store, location.org, query)

    # ----------------------------------------------------------------- stat

    def stat(self, path: str) -> Node:
        """The node at ``path``.

        Raises:
            NotFound: nothing is there.
            InvalidInput: the path is malformed.
        """
        return self.stat_location(parse_path(path))

    def stat_location(self, location: Location) -> Node:
        if location.org is None:
            return Node("root", "")
        if not location.name:
            if location.in_trash:
                self.store.get_organization(location.org)
                return folder_node(location)
            return org_node(location.org, self.store.organization_created(location.org))
        # the index first: an image there is the answer in one lookup (a write at a path
        # replaces an image there by a side file or the other way round, never keeps both)
        named, images_inside = self.store.find_by_name_or_folder(
            location.org, location.name, deleted=location.in_trash
        )
        if named is not None:
            return image_node(location.basename, named, in_trash=location.in_trash)
        entry = (
            FaceEntry()
            if location.in_trash
            else self.faces.file_or_folder(location.org, location.name)
        )
        if entry.side is not None and _shown(entry.side):
            return side_node(entry.side)
        spelling = split_spelling(location.basename)
        image = self._spelled_image(location, *spelling) if spelling is not None else None
        if image is not None:
            return image_node(location.basename, image, in_trash=location.in_trash)
        if entry.folder or images_inside:
            return folder_node(location, entry.folder_mtime)
        raise NotFound(f"nothing at {location.org}/{location.name}")

    def _spelled_image(self, location: Location, basename: str, short: str) -> SourceImage | None:
        assert location.org is not None
        try:
            image = self.store.get_source_image(location.org, short, deleted=location.in_trash)
        except NotFound:
            return None
        parent = location.parent_name
        wanted = f"{parent}/{basename}" if parent else basename
        if image.deleted != location.in_trash:
            return None
        if image.name == wanted:
            return image
        image_parent, _, image_basename = image.name.rpartition("/")
        shortened = visible_basename(image_basename, image.short_hash, duplicate=True)
        if image_parent == parent and shortened == location.basename:  # (a name cut to fit)
            return image
        return None

    # ----------------------------------------------------------------- listing

    def children(self, path: str) -> list[Node]:
        """The children of the folder at ``path`` (``.trash`` is reachable but not listed).

        Raises:
            NotFound: no folder there.
        """
        location = parse_path(path)
        node = self.stat_location(location)
        if node.kind == "root":
            return [org_node(o.name, o.created) for o in self.store.list_organizations()]
        if not node.is_dir:
            raise NotFound(f"{path} is not a folder")
        return self.list_location(location)

    def list_location(self, location: Location) -> list[Node]:
        assert location.org is not None
        prefix = location.name + "/" if location.name else ""
        files: list[SourceImage] = []
        folders: set[str] = set()
        times: dict[str, float | None] = {}
        for image in self.images_below(location):
            rest = image.name[len(prefix) :]
            if "/" in rest:
                folders.add(rest.split("/", 1)[0])
            else:
                files.append(image)
        nodes = [image_node(n, i, in_trash=location.in_trash) for n, i in spelled_names(files)]
        if not location.in_trash:
            for side in self.faces.files_below(location.org, prefix):
                if not _shown(side):
                    continue
                rest = side.path[len(prefix) :]
                if "/" in rest:
                    folders.add(rest.split("/", 1)[0])
                else:
                    nodes.append(side_node(side))
            for folder, mtime in self.faces.folders_below(location.org, prefix).items():
                child = folder[len(prefix) :]
                folders.add(child.split("/", 1)[0])
                if "/" not in child:
                    times[child] = mtime
        taken = {n.name for n in nodes}
        nodes += [
            folder_node(location.child(f), times.get(f)) for f in sorted(folders - taken) if f
        ]
        return nodes
