"""AuthorizedFaces: the faces' own state (side files, empty folders) as one principal may use
it, with the same check as its images (:meth:`AuthorizedStore.require`): reading needs
``read`` in the organization, any change ``write``; an organization the principal is no member
of does not exist for it."""

from __future__ import annotations

from collections.abc import Callable
from typing import BinaryIO

from rokkafs.provider.faces import Faces
from rokkafs.provider.facestate import FaceEntry, SideFile
from rokkafs.staging import Staged

__all__ = ["AuthorizedFaces"]


class AuthorizedFaces(Faces):
    """The faces' state behind a permission check: every method of :class:`Faces` checks
    first (a test holds that), so nothing reaches the state unchecked."""

    def __init__(self, faces: Faces, require: Callable[[str, str], None]) -> None:
        self._faces = faces
        self._require = require
        self.blobs = faces.blobs

    def add_folder(self, org: str, path: str) -> None:
        self._require(org, "write")
        self._faces.add_folder(org, path)

    def has_folder(self, org: str, path: str) -> bool:
        self._require(org, "read")
        return self._faces.has_folder(org, path)

    def folders_below(self, org: str, prefix: str) -> dict[str, float | None]:
        self._require(org, "read")
        return self._faces.folders_below(org, prefix)

    def folder_mtime(self, org: str, path: str) -> float | None:
        self._require(org, "read")
        return self._faces.folder_mtime(org, path)

    def set_folder_mtime(self, org: str, path: str, mtime: float) -> None:
        self._require(org, "write")
        self._faces.set_folder_mtime(org, path, mtime)

    def remove_folders(self, org: str, path: str) -> None:
        self._require(org, "write")
        self._faces.remove_folders(org, path)

    def move_prefix(self, org: str, old: str, new: str, new_org: str | None = None) -> None:
        self._require(org, "write")
        self._require(new_org or org, "write")
        self._faces.move_prefix(org, old, new, new_org)

    def put_file(self, org: str, path: str, staged: Staged | None, mtime: float) -> SideFile:
        self._require(org, "write")
        return self._faces.put_file(org, path, staged, mtime)

    def get_file(self, org: str, path: str) -> SideFile | None:
        self._require(org, "read")
        return self._faces.get_file(org, path)

    def file_or_folder(self, org: str, path: str) -> FaceEntry:
        self._require(org, "read")
        return self._faces.file_or_folder(org, path)

    def files_below(self, org: str, prefix: str) -> list[SideFile]:
        self._require(org, "read")
        return self._faces.files_below(org, prefix)

    def open_file(self, side: SideFile) -> BinaryIO:
        self._require(side.org, "read")
        return self._faces.open_file(side)

    def delete_file(self, org: str, path: str) -> bool:
        self._require(org, "write")
        return self._faces.delete_file(org, path)

    def move_file(self, org: str, path: str, new_org: str, new_path: str) -> None:
        self._require(org, "write")
        self._require(new_org, "write")
        self._faces.move_file(org, path, new_org, new_path)

    def copy_file(self, side: SideFile, org: str, path: str, mtime: float) -> SideFile:
        self._require(side.org, "read")
        self._require(org, "write")
        return self._faces.copy_file(side, org, path, mtime)

    def set_mtime(self, org: str, path: str, mtime: float) -> None:
        self._require(org, "write")
        self._faces.set_mtime(org, path, mtime)

    def close(self) -> None:
        """The wrapped state belongs to whoever made it."""
