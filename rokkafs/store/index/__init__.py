"""The metadata index interface LocalStore uses, so a database server can replace SQLite.

An index holds organizations, source image records (the rokka fields plus the id of the blob
holding the bytes) and the list of blobs. All access goes through a transaction: ``read()``
gives a consistent snapshot, ``write()`` an exclusive transaction that commits on success and
rolls back on any exception.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass

from rokkafs.model import Organization, SourceImage
from rokkafs.rokka.search import SearchQuery

__all__ = [
    "BlobBeingDeleted",
    "ImageState",
    "IndexTransaction",
    "MetadataIndex",
    "PathScope",
    "PathView",
    "SearchPage",
    "StoredImage",
]


@dataclass(frozen=True, slots=True)
class StoredImage:
    """A source image record together with the blob that holds its bytes."""

    image: SourceImage
    blob_id: str


@dataclass(frozen=True, slots=True)
class ImageState:
    """The few fields of a record that copying decides on."""

    hash: str
    short_hash: str
    deleted: bool
    locked: bool
    created: float


@dataclass(frozen=True, slots=True)
class SearchPage:
    """One page of index search results; ``last_key`` is the sort key of the last item."""

    total: int
    items: tuple[StoredImage, ...]
    last_key: list[object] | None


@dataclass(frozen=True, slots=True)
class PathScope:
    """What one path write of a file face touches (:mod:`rokkafs.store.path_write`): the
    images named ``name`` in ``org``, the names of its folders and of images inside it
    (read), and the records whose hashes start with ``hash_prefix`` (its new record's)."""

    org: str
    name: str
    hash_prefix: str


@dataclass(frozen=True, slots=True)
class PathView:
    """What a path write decides on, read in one lookup (:meth:`IndexTransaction.path_view`):
    the oldest live image named like the path, whether live images are inside that name as a
    folder, the shallowest of its folders that a live image is named, and every record (in
    any state) whose hash starts with the hash prefix asked for."""

    shown: StoredImage | None
    images_inside: bool
    file_folder: str | None
    near: tuple[StoredImage, ...]


class IndexTransaction(abc.ABC):
    """Operations inside one index transaction.

    ``trash_cutoff`` arguments are epoch seconds: trashed images deleted before it count as
    gone (past the retention time) even before a purge removed them.
    """

    @abc.abstractmethod
    def get_organization(self, name: str) -> Organization | None:
        """The organization, or None."""

    @abc.abstractmethod
    def list_organizations(self) -> list[Organization]:
        """All organizations by name."""

    @abc.abstractmethod
    def insert_organization(self, organization: Organization) -> None:
        """Add an organization (the caller checked it is new)."""

    @abc.abstractmethod
    def set_organization_options(self, name: str, options: dict[str, object]) -> None:
        """Replace an organization's options."""

    @abc.abstractmethod
    def get_image(
        self, org: str, ref: str, *, include_deleted: bool, trash_cutoff: float
    ) -> StoredImage | None:
        """Find an image by exact hash or short hash; live only unless ``include_deleted``."""

    @abc.abstractmethod
    def image_named(
        self, org: str, name: str, *, deleted: bool, trash_cutoff: float
    ) -> StoredImage | None:
        """The oldest live (``deleted``: restorable) image with exactly this name."""

    @abc.abstractmethod
    def image_named_or_below(
        self, org: str, name: str, *, deleted: bool, trash_cutoff: float
    ) -> tuple[StoredImage | None, bool]:
        """:meth:`image_named`, and whether a live (``deleted``: restorable) image has a name
        inside ``name`` as a folder, in one lookup."""

    @abc.abstractmethod
    def path_view(self, org: str, name: str, hash_prefix: str) -> PathView:
        """What a path write of ``name`` whose new record's hash starts with ``hash_prefix``
        decides on (:class:`PathView`), in one lookup."""

    @abc.abstractmethod
    def live_name_among(self, org: str, names: Sequence[str]) -> str | None:
        """One of ``names`` that a live image of ``org`` has, or None (one lookup)."""

    @abc.abstractmethod
    def has_live_names_below(self, org: str, folder: str) -> bool:
        """Whether a live image of ``org`` has a name inside ``folder`` (``a/b`` for ``a/b/x``)."""

    @abc.abstractmethod
    def live_name_clashes(self) -> list[tuple[str, str]]:
        """(org, name) of every live image whose name is also a folder of live images."""

    @abc.abstractmethod
    def image_states(self, org: str, refs: list[str]) -> list[ImageState]:
        """The copy-relevant fields of every record of ``org`` (in any state) whose hash or
        short hash is in ``refs``."""

    @abc.abstractmethod
    def copy_records(
        self, org: str, destination: str, copies: list[tuple[str, str, float]]
    ) -> None:
        """Copy records ``(hash, short hash in destination, created)`` of ``org`` into
        ``destination`` unlocked and live, replacing a record of the same hash there."""

    @abc.abstractmethod
    def live_hashes(self, org: str, *, after: str, limit: int) -> list[str]:
        """Hashes of live images of ``org`` greater than ``after``, in hash order."""

    @abc.abstractmethod
    def hash_prefix_taken(self, org: str, prefix: str, *, exclude_hash: str) -> bool:
        """Whether another image of ``org`` (in any state) has a hash starting with prefix."""

    @abc.abstractmethod
    def images_with_hash_prefix(self, org: str, prefix: str) -> list[StoredImage]:
        """Every record of ``org`` (in any state) whose hash starts with ``prefix``."""

    @abc.abstractmethod
    def put_image(self, stored: StoredImage) -> None:
        """Insert or update the record of (organization, hash)."""

    @abc.abstractmethod
    def search(self, org: str, query: SearchQuery, *, trash_cutoff: float) -> SearchPage:
        """Run a listing or search query."""

    @abc.abstractmethod
    def purge_images(self, *, deleted_before: float) -> int:
        """Remove records of images trashed before the given time; return how many."""

    @abc.abstractmethod
    def set_md5(self, blob_id: str, md5: str) -> None:
        """Record the md5 of a blob's bytes on every image record that lacks it."""

    @abc.abstractmethod
    def blob_status(self, blob_id: str) -> tuple[bool, int]:
        """Whether a blob is recorded, and the current blob-deletion epoch (read it before
        publishing the blob; see :mod:`rokkafs.store.blobs.publication`)."""

    @abc.abstractmethod
    def add_blob(self, blob_id: str, size: int, *, epoch: int | None) -> bool:
        """Record a blob published after ``epoch`` was read (None: known to be present, as
        long as no clean-up is removing it).

        Returns:
            True if it was not recorded before.

        Raises:
            BlobBeingDeleted: the clean-up is removing these bytes, or removed them after
                ``epoch`` (publish again with a fresh epoch).
        """

    @abc.abstractmethod
    def unreferenced_blobs(self) -> list[tuple[str, int]]:
        """Blobs (id, size) that no image record refers to."""

    @abc.abstractmethod
    def delete_blob(self, blob_id: str) -> None:
        """Forget a blob."""

    @abc.abstractmethod
    def blob_page(self, *, after: str, limit: int) -> list[tuple[str, int, bool]]:
        """Recorded blobs (id, size, whether an image refers to it) after ``after``, by id."""

    @abc.abstractmethod
    def recorded_among(self, blob_ids: Sequence[str]) -> set[str]:
        """Those of the given blob ids that are recorded."""

    @abc.abstractmethod
    def unrecorded_references(self) -> list[str]:
        """Blob ids image records refer to without a blob record (never, with the schema's
        foreign key; for the check)."""

    @abc.abstractmethod
    def doom_blobs(self, blob_ids: Sequence[str], *, now: float, claim: str) -> list[str]:
        """Mark the given blobs that are not recorded as being deleted by the clean-up
        ``claim`` names; return them."""

    @abc.abstractmethod
    def blobs_being_deleted(self, *, before: float | None = None) -> list[tuple[str, str]]:
        """(blob id, claim) of the blobs marked as being deleted (before the given time)
        whose removal has not been confirmed."""

    @abc.abstractmethod
    def confirm_deleted(self, blob_ids: Sequence[str], *, claim: str, now: float) -> None:
        """Record that the given blobs' bytes, marked by ``claim``, are gone (this advances
        the epoch); marks of other claims stay."""

    @abc.abstractmethod
    def forget_deletions(self, *, before: float) -> None:
        """Drop confirmed deletions older than ``before`` (no upload is that slow)."""

    def lock_hash_prefix(self, org: str, prefix: str) -> None:
        """Wait for the other writes deciding on records of ``org`` whose hashes start with
        ``prefix``, before deciding on them (a short hash, a variant): only a path write's
        transaction (:meth:`MetadataIndex.write_path`) does not exclude them already."""
        return None


class BlobBeingDeleted(Exception):
    """A blob's bytes are being, or were after the caller's epoch, removed by the clean-up."""


class MetadataIndex(abc.ABC):
    """A transactional metadata index."""

    @abc.abstractmethod
    def read(self) -> AbstractContextManager[IndexTransaction]:
        """A read transaction (a consistent snapshot)."""

    @abc.abstractmethod
    def write(self) -> AbstractContextManager[IndexTransaction]:
        """An exclusive write transaction."""

    def write_path(self, scope: PathScope) -> AbstractContextManager[IndexTransaction]:
        """A write transaction for one path write: it must exclude the writes of the same
        name, of its folders' names and of names inside it, and every write that is not a
        path write; an index may let other path writes run alongside (the transaction then
        takes :meth:`IndexTransaction.lock_hash_prefix` before deciding on hashes). By
        default an exclusive :meth:`write`."""
        return self.write()

    def lookup(self) -> AbstractContextManager[IndexTransaction]:
        """Reads whose statements need not agree on one snapshot (each sees the latest
        commit): a single lookup, or one followed by a check that only picks the error.
        Cheaper than :meth:`read` where the index can skip the transaction."""
        return self.read()

    @abc.abstractmethod
    def cleanup_turn(self) -> AbstractContextManager[bool]:
        """Hold the one clean-up turn of every process and node sharing this index while
        the block runs: True if this caller has it, False if another clean-up runs."""

    @abc.abstractmethod
    def close(self) -> None:
        """Close every connection."""
