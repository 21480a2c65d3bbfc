"""What the path model needs of the faces' own state (empty folders and side files): the
interface :class:`~rokkafs.provider.facestate.FaceState` implements, and
:class:`~rokkafs.access.faces.AuthorizedFaces` wraps with a permission check."""

from __future__ import annotations

from typing import TYPE_CHECKING, BinaryIO, Protocol

if TYPE_CHECKING:
    from rokkafs.provider.facestate import SideFile
    from rokkafs.staging import Staged
    from rokkafs.store.blobs import BlobStorage

__all__ = ["Faces"]


class Faces(Protocol):
    """Empty folders and side files of every organization (see FaceState for each rule)."""

    blobs: BlobStorage

    def add_folder(self, org: str, path: str) -> None: ...

    def has_folder(self, org: str, path: str) -> bool: ...

    def folders_below(self, org: str, prefix: str) -> dict[str, float | None]: ...

    def folder_mtime(self, org: str, path: str) -> float | None: ...

    def set_folder_mtime(self, org: str, path: str, mtime: float) -> None: ...

    def remove_folders(self, org: str, path: str) -> None: ...

    def move_prefix(self, org: str, old: str, new: str, new_org: str | None = None) -> None: ...

    def put_file(self, org: str, path: str, staged: Staged | None, mtime: float) -> SideFile: ...

    def get_file(self, org: str, path: str) -> SideFile | None: ...

    def files_below(self, org: str, prefix: str) -> list[SideFile]: ...

    def open_file(self, side: SideFile) -> BinaryIO: ...

    def delete_file(self, org: str, path: str) -> bool: ...

    def move_file(self, org: str, path: str, new_org: str, new_path: str) -> None: ...

    def copy_file(self, side: SideFile, org: str, path: str, mtime: float) -> SideFile: ...

    def set_mtime(self, org: str, path: str, mtime: float) -> None: ...
