"""The path rules of the filesystem faces: parsing paths, side-file names, duplicate spellings.

``/<org>/<name>`` is a live source image whose name (its path inside the organization) is
``<name>``; ``/<org>/.trash/<name>`` one in the trash. When several images share a name, the
oldest keeps it and every later one is spelled ``<stem>~<short_hash><ext>``.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from rokkafs.errors import InvalidInput, NotPermitted
from rokkafs.model import MAX_SEGMENT_BYTES, SourceImage, check_segment_length

__all__ = [
    "TRASH",
    "Location",
    "is_side_name",
    "parse_path",
    "spelled_names",
    "split_spelling",
    "visible_basename",
]

TRASH = ".trash"
# What desktops, editors and sync tools put next to files: kept as side files, never images.
# Every other name, dot or not, is an image (or a refused non-image).
_SIDE_NAMES = {
    # macOS Finder and Spotlight
    ".ds_store",
    ".localized",
    ".apdisk",
    ".volumeicon.icns",
    ".spotlight-v100",
    ".trashes",
    ".fseventsd",
    ".temporaryitems",
    ".documentrevisions-v100",
    ".metadata_never_index",
    ".com.apple.timemachine.donotpresent",
    "icon\r",
    # Windows Explorer, KDE
    "thumbs.db",
    "ehthumbs.db",
    "desktop.ini",
    ".directory",
}
_SIDE_PATTERNS = re.compile(
    r"^\._."  # AppleDouble resource forks (._name)
    r"|^\..+\.[A-Za-z0-9]{6}$"  # rsync's temporaries (.name.XXXXXX)
    r"|^\..+\.sw[a-p]$"  # vim's swap files (.name.swp)
    r"|^\.#."  # emacs's lock files (.#name)
    r"|^#.+#$"  # emacs's auto-saves (#name#)
    r"|.~$"  # backups (name~)
    r"|^~\$."  # Office's owner files (~$name)
    r"|^\.~lock\..+#$"  # LibreOffice's locks (.~lock.name#)
    r"|^\.goutputstream-[A-Za-z0-9]{6}$"  # GLib's atomic writes (gedit, GNOME Files)
)
_SPELLING = re.compile(r"^(?P<stem>.*)~(?P<short>[0-9a-f]{6,40})(?P<ext>\.[^./~]*)?$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class Location:
    """Where a path points: the root, an organization, its trash, or a name inside either."""

    org: str | None = None
    name: str = ""
    in_trash: bool = False

    @property
    def basename(self) -> str:
        return self.name.rsplit("/", 1)[-1]

    @property
    def parent_name(self) -> str:
        return self.name.rsplit("/", 1)[0] if "/" in self.name else ""

    def child(self, segment: str) -> Location:
        return Location(self.org, f"{self.name}/{segment}" if self.name else segment, self.in_trash)


def parse_path(path: str) -> Location:
    """Parse a face path (``/org/2024/cat.png``) into a :class:`Location`, NFC-normalized.

    Raises:
        InvalidInput: control characters, ``.`` or ``..`` segments.
    """
    segments = [unicodedata.normalize("NFC", s) for s in path.split("/") if s]
    for segment in segments:
        if segment in (".", "..") or _CONTROL.search(segment):
            raise InvalidInput(f"invalid path segment {segment!r}")
        check_segment_length(segment)
    if not segments:
        return Location()
    org, rest = segments[0], segments[1:]
    if rest and rest[0] == TRASH:
        return Location(org, "/".join(rest[1:]), in_trash=True)
    return Location(org, "/".join(rest))


def is_side_name(basename: str) -> bool:
    """Whether a file of this name is a side file: one of the names desktops, editors and sync
    tools make (``.DS_Store``, ``._*``, ``Thumbs.db``, rsync's and editors' temporaries)."""
    return basename.lower() in _SIDE_NAMES or _SIDE_PATTERNS.search(basename) is not None


def split_spelling(basename: str) -> tuple[str, str] | None:
    """``cat~1a2b3c.png`` → (``cat.png``, ``1a2b3c``); None if it is no duplicate spelling."""
    match = _SPELLING.match(basename)
    if match is None:
        return None
    return match.group("stem") + (match.group("ext") or ""), match.group("short")


def spelled(basename: str, short_hash: str) -> str:
    """The duplicate spelling of a basename."""
    path = PurePosixPath(basename)
    suffix = path.suffix if path.stem else ""
    stem = basename[: len(basename) - len(suffix)]
    return f"{stem}~{short_hash}{suffix}"


def _fits(basename: str) -> bool:
    return len(basename.encode("utf-8", "surrogatepass")) <= MAX_SEGMENT_BYTES


def visible_basename(basename: str, short_hash: str, *, duplicate: bool) -> str:
    """How a file faces show an image's basename: as it is; spelled ``stem~short_hash.ext``
    when an older image has the name; and, for a name longer than filesystems allow (stored
    before such names were refused), its stem cut so that the spelling fits in 255 bytes."""
    if _fits(basename) and not duplicate:
        return basename
    name = spelled(basename, short_hash)
    while not _fits(name):  # (cut the stem one character at a time: never a broken UTF-8)
        cut = name.rfind("~")
        name = name[: cut - 1] + name[cut:] if cut > 1 else name[:-1]
    return name


def spelled_names(images: Sequence[SourceImage]) -> list[tuple[str, SourceImage]]:
    """Give images of one folder (oldest first) their visible basenames: the oldest of each
    name keeps it, later ones get the ``~short_hash`` spelling (see
    :func:`visible_basename`)."""
    seen: defaultdict[str, int] = defaultdict(int)
    named: list[tuple[str, SourceImage]] = []
    for image in images:
        basename = image.name.rsplit("/", 1)[-1]
        seen[basename] += 1
        duplicate = seen[basename] > 1
        named.append((visible_basename(basename, image.short_hash, duplicate=duplicate), image))
    return named


def check_name(location: Location) -> None:
    """Raise NotPermitted if the location has no name (it is a root, org or trash folder):
    files live inside organizations, the top level holds only organizations."""
    if location.org is None or not location.name:
        raise NotPermitted(
            "files and folders live inside organizations; the top level holds only "
            "organizations (made with mkdir)"
        )
