"""Records of the rokka domain, as frozen dataclasses, and the name rules.

Nothing here does I/O. The JSON shapes rokka sends over the wire live in :mod:`rokkafs.rokka.wire`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from rokkafs.errors import InvalidInput, NameTooLong

__all__ = [
    "CheckReport",
    "CopyAllResult",
    "CopyResult",
    "ImageInfo",
    "Organization",
    "PurgeResult",
    "SourceImage",
    "SourceImageList",
    "check_segment_length",
    "folders_of",
    "validate_hash_ref",
    "validate_image_name",
    "validate_organization_name",
    "validate_organization_options",
]

JSONValue = object
"""A value that came from or goes to JSON (user metadata values, dynamic metadata)."""

_ORG_RE = re.compile(r"^[a-z0-9-]{1,64}$")
_HASH_REF_RE = re.compile(r"^[0-9a-f]{6,40}$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
MAX_NAME_LENGTH = 1024
MAX_SEGMENT_BYTES = 255  # (NAME_MAX of Linux and macOS filesystems)


@dataclass(frozen=True, slots=True)
class Organization:
    """An organization: the unit that holds source images."""

    id: str
    name: str
    display_name: str
    billing_email: str
    created: datetime
    master_organization: str
    options: Mapping[str, object] = field(default_factory=dict)


ORGANIZATION_OPTIONS: dict[str, type | tuple[type, ...]] = {
    "protect_dynamic_stack": bool,
    "remote_basepath": str,
    "remote_fullurl_allow": bool,
    "remote_fullurl_whitelist": list,
    "fallback_image": str,
}
"""The organization options rokkafs keeps (rokka's; it renders nothing, so they are stored
for clients that read them back)."""


def validate_organization_options(options: Mapping[str, object]) -> dict[str, object]:
    """Check organization options by name and type.

    Raises:
        InvalidInput: unknown names or wrongly typed values.
    """
    if not isinstance(options, Mapping):
        raise InvalidInput("organization options must be a JSON object")
    for name, value in options.items():
        kind = ORGANIZATION_OPTIONS.get(name)
        if kind is None:
            raise InvalidInput(f"unknown organization option {name!r}")
        wrong_list = isinstance(value, list) and not all(isinstance(v, str) for v in value)
        if not isinstance(value, kind) or wrong_list:
            raise InvalidInput(f"organization option {name!r} has the wrong type")
    return dict(options)


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """What content detection found out about some bytes, read from headers only."""

    format: str
    mimetype: str
    width: int
    height: int
    opaque: bool | None = None
    animated: bool | None = None
    is_image: bool = True


@dataclass(frozen=True, slots=True)
class SourceImage:
    """One source image of one organization, with exactly rokka's fields.

    ``hash`` identifies the image (binary plus dynamic metadata); ``binary_hash`` is the sha1
    of the uploaded bytes. ``mtime`` is rokkafs's own addition: the modification time a
    filesystem face shows, settable (``touch``, ``rsync -t``); it starts as ``created``.
    """

    organization: str
    hash: str
    short_hash: str
    binary_hash: str
    name: str
    format: str
    mimetype: str
    size: int
    width: int
    height: int
    created: datetime
    mtime: float
    user_metadata: Mapping[str, JSONValue] = field(default_factory=dict)
    dynamic_metadata: Mapping[str, Mapping[str, JSONValue]] = field(default_factory=dict)
    locked: bool = False
    protected: bool = False
    opaque: bool | None = None
    animated: bool | None = None
    deleted: bool = False
    deleted_date: datetime | None = None
    md5: str | None = None  # (rokkafs's own: of the stored bytes, for rclone's checksums)

    @property
    def link(self) -> str:
        """The relative API link rokka returns: ``/sourceimages/{org}/{hash}``."""
        return f"/sourceimages/{self.organization}/{self.hash}"


@dataclass(frozen=True, slots=True)
class SourceImageList:
    """One page of a listing or search.

    ``cursor`` continues after the last item (search-after, stable while deleting); it is
    ``None`` when the page was asked for with a numeric offset. ``total`` counts every match
    (-1 when the query said ``with_total=False`` and the store skipped counting).
    """

    total: int
    items: tuple[SourceImage, ...]
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class CopyResult:
    """Outcome of a batch copy, hash by hash, as rokka reports it."""

    created: tuple[str, ...] = ()
    existing: tuple[str, ...] = ()
    notfound: tuple[str, ...] = ()


CopyOutcome = Literal["created", "overwritten"]


@dataclass(frozen=True, slots=True)
class CopyAllResult:
    """Counts of a whole-organization copy."""

    created: int
    existing: int


@dataclass(frozen=True, slots=True)
class PurgeResult:
    """What a trash purge removed."""

    images: int
    blobs: int
    freed_bytes: int


@dataclass(frozen=True, slots=True)
class CheckReport:
    """Result of a store consistency check.

    ``problems`` break the store's promises (an image without its blob, a blob whose bytes do
    not match its id); ``notes`` are harmless leftovers a crash may leave (an orphan blob
    file, a stale temporary file) that garbage collection removes.
    """

    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when there are no problems."""
        return not self.problems


def validate_organization_name(name: str) -> str:
    """Return ``name`` if it is a valid organization name (``^[a-z0-9-]+$``).

    Raises:
        InvalidInput: otherwise.
    """
    if not isinstance(name, str) or not _ORG_RE.match(name):
        raise InvalidInput(
            f"invalid organization name {name!r}: only a-z, 0-9 and '-' (1 to 64 characters)"
        )
    return name


def validate_hash_ref(ref: str) -> str:
    """Return ``ref`` if it looks like a hash or short hash (6 to 40 lowercase hex digits).

    Raises:
        InvalidInput: otherwise.
    """
    if not isinstance(ref, str) or not _HASH_REF_RE.match(ref):
        raise InvalidInput(f"invalid hash {ref!r}: expected 6 to 40 lowercase hex digits")
    return ref


def validate_image_name(name: str) -> str:
    """Normalize a source image name to NFC and check it.

    A name is a path inside the organization (``2024/03/cat.png``): no NUL or control
    characters, no empty, ``.`` or ``..`` segments, no leading or trailing slash.

    Returns:
        The NFC-normalized name.

    Raises:
        InvalidInput: when the name breaks one of the rules.
    """
    if not isinstance(name, str):
        raise InvalidInput("the image name must be a string")
    normalized = unicodedata.normalize("NFC", name)
    if not normalized or len(normalized) > MAX_NAME_LENGTH:
        raise InvalidInput(f"invalid image name: 1 to {MAX_NAME_LENGTH} characters required")
    if _CONTROL_RE.search(normalized):
        raise InvalidInput(f"invalid image name {name!r}: control characters are not allowed")
    for segment in normalized.split("/"):
        if segment in ("", ".", ".."):
            raise InvalidInput(
                f"invalid image name {name!r}: empty, '.' and '..' path segments are not allowed"
            )
        check_segment_length(segment)
    return normalized


def folders_of(name: str) -> list[str]:
    """The folders an image name lies in, top down (``a``, ``a/b`` for ``a/b/cat.png``)."""
    parts = name.split("/")
    return ["/".join(parts[:end]) for end in range(1, len(parts))]


def check_segment_length(segment: str) -> None:
    """Refuse a folder or file name longer than filesystems allow (255 bytes in UTF-8), which
    no tool could copy out of a mount.

    Raises:
        NameTooLong: it is longer.
    """
    if len(segment.encode("utf-8", "surrogatepass")) > MAX_SEGMENT_BYTES:
        raise NameTooLong(
            f"the name {segment[:40]!r}… is longer than {MAX_SEGMENT_BYTES} bytes (UTF-8)"
        )
