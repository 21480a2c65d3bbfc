"""What the faces show: nodes (files and folders) with their attributes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rokkafs.model import SourceImage

__all__ = ["Node", "NodeKind", "Seen"]

NodeKind = Literal["root", "organization", "trash", "folder", "image", "side"]


@dataclass(frozen=True, slots=True)
class Node:
    """A file or folder of the path model.

    ``etag`` changes exactly when a file's content changes (images: the binary hash; side
    files: the sha1 of their bytes). ``image`` is set for source images (live or trashed).
    """

    kind: NodeKind
    name: str
    org: str | None = None
    rel: str = ""
    in_trash: bool = False
    size: int = 0
    mtime: float = 0.0
    ctime: float = 0.0
    etag: str | None = None
    mimetype: str = "application/octet-stream"
    image: SourceImage | None = None

    @property
    def is_dir(self) -> bool:
        return self.kind in ("root", "organization", "trash", "folder")


@dataclass(frozen=True, slots=True)
class Seen:
    """What a face found at a path just before writing it (``node`` None: nothing), and when
    (``time.monotonic()``), so the write need not look again while that is fresh."""

    node: Node | None
    at: float
