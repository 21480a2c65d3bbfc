"""The Store contract: rokka's source-image semantics, independent of where things live.

Implementations: LocalStore (embedded: SQLite index, content-addressed blob files) and
RemoteStore (a rokka-compatible HTTP API); ``tests/contract`` runs against both.

Conventions of every method:

* ``org`` is an organization name; an unknown one raises :class:`OrganizationNotFound`.
* ``ref`` is a source image's hash or short hash (exact match on either); an unknown one, or a
  deleted one unless stated otherwise, raises :class:`ImageNotFound`.
* Returned records are frozen snapshots. Every change is atomic, also across a crash.
* Implementations are thread-safe; LocalStore also across processes sharing a directory.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import IO, BinaryIO

from rokkafs.errors import InvalidInput
from rokkafs.model import (
    CheckReport,
    CopyAllResult,
    CopyOutcome,
    CopyResult,
    Organization,
    PurgeResult,
    SourceImage,
    SourceImageList,
)
from rokkafs.rokka.search import Filter, SearchQuery, SortKey
from rokkafs.store.changes import SourceImageChanges
from rokkafs.store.config import OptimizeSource, StoreConfig

__all__ = ["Store"]

MAX_BATCH_COPY = 100


class Store(SourceImageChanges):
    """The operations of a rokka-compatible source image store (changes of existing images:
    :class:`~rokkafs.store.changes.SourceImageChanges`)."""

    config: StoreConfig

    # ----------------------------------------------------------------- organizations

    @abc.abstractmethod
    def create_organization(
        self, name: str, *, display_name: str | None = None, billing_email: str = ""
    ) -> Organization:
        """Create an organization.

        Args:
            name: ``^[a-z0-9-]+$``.
            display_name: shown name; defaults to ``name``.
            billing_email: rokka's contact address (not used by rokkafs).

        Returns:
            The new organization.

        Raises:
            InvalidInput: the name breaks the rule.
            AlreadyExists: an organization of that name exists.
        """

    @abc.abstractmethod
    def get_organization(self, name: str) -> Organization:
        """Return one organization.

        Raises:
            OrganizationNotFound: no such organization.
        """

    def require_organization(self, name: str) -> None:
        """That an organization exists (stores that never delete one remember it).

        Raises:
            OrganizationNotFound: no such organization.
        """
        self.organization_created(name)

    def syncs_staging(self) -> bool:
        """Whether bytes handed over as a staging file must be on disk before the store takes
        them (see ``BlobStorage.syncs_staging``); True unless the store knows otherwise."""
        return True

    def organization_created(self, name: str) -> datetime:
        """When an organization was created (it never changes: stores may remember it).

        Raises:
            OrganizationNotFound: no such organization.
        """
        return self.get_organization(name).created

    @abc.abstractmethod
    def list_organizations(self) -> list[Organization]:
        """Return every organization, sorted by name."""

    @abc.abstractmethod
    def set_organization_options(self, name: str, options: Mapping[str, object]) -> Organization:
        """Merge options into an organization's options.

        Raises:
            OrganizationNotFound: no such organization.
            InvalidInput: unknown options or wrong types.
        """

    # ----------------------------------------------------------------- creating

    @abc.abstractmethod
    def create_source_image(
        self,
        org: str,
        data: IO[bytes],
        *,
        name: str,
        user_metadata: Mapping[str, object] | None = None,
        dynamic_metadata: Mapping[str, object] | None = None,
        optimize_source: OptimizeSource | None = None,
        protected: bool = False,
        mtime: float | None = None,
    ) -> SourceImage:
        """Upload a source image from a stream, read once and never held in memory.

        The format is detected from the content. Re-uploading identical bytes with the same
        dynamic metadata returns the same image (undeleted if it was in the trash): user
        metadata fields given are merged in, fields not given are kept, ``name`` replaces the
        old name.

        Args:
            org: the organization.
            data: a binary stream, read to its end; a :class:`~rokkafs.staging.HandedOver`
                staging file may be moved in instead of read.
            name: the image name (a path inside the organization), NFC-normalized.
            user_metadata: typed user metadata (``int:views``, ``title``, …).
            dynamic_metadata: ``{name: entry}``, e.g. ``{"version": {"text": "b"}}``; changes
                the hash.
            optimize_source: for TIFF and PSD: ``"true"`` recompresses losslessly (PSD to
                PNG), ``"jpg"``/``"png"`` convert; ``binary_hash`` stays the original's.
            protected: upload as a protected image (a different hash).
            mtime: modification time to record; defaults to the creation time.

        Returns:
            The created (or re-found) source image.

        Raises:
            InvalidInput: bad name or metadata.
            InvalidImage: empty, truncated or unreadable image data.
            TooManyPixels: over ``config.max_pixels`` (not for JPEG and WebP).
            PayloadTooLarge: over ``config.max_upload_bytes``.
            UnsupportedMediaType: not an image and not on the non-image allow-list.
            Locked: re-upload of a locked image that would change its user metadata.
        """

    @abc.abstractmethod
    def write_source_image(
        self,
        org: str,
        data: IO[bytes],
        *,
        name: str,
        replacing: str | None = None,
        mtime: float | None = None,
    ) -> SourceImage:
        """A file face's write: afterwards the path ``name`` shows these bytes. The image it
        showed (``replacing``, the hash a duplicate spelling names; else the oldest live image
        of ``name``) goes to the trash unless it has these bytes already; no other image is
        renamed, moved or revived (bytes held by another image become a ``version`` variant).
        Stores that can do so decide it in one step, so concurrent writers serialize.

        Raises:
            Locked: the image shown is locked. And as :meth:`create_source_image`.
        """

    @abc.abstractmethod
    def create_source_image_from_url(
        self,
        org: str,
        url: str,
        *,
        name: str | None = None,
        user_metadata: Mapping[str, object] | None = None,
        dynamic_metadata: Mapping[str, object] | None = None,
        optimize_source: OptimizeSource | None = None,
    ) -> SourceImage:
        """Fetch a public http(s) URL and upload what it returns.

        Redirects are followed only to http(s); loopback, private, link-local and other
        non-public addresses are refused unless ``config.allow_private_urls``; the download
        is bounded by ``config.max_upload_bytes`` and ``config.url_timeout_seconds``.

        Args:
            name: defaults to the last segment of the URL path.

        Raises:
            InvalidInput: bad URL, refused address or scheme, or a failed download.
            As :meth:`create_source_image` otherwise.
        """

    # ----------------------------------------------------------------- reading

    @abc.abstractmethod
    def get_source_image(self, org: str, ref: str, *, deleted: bool = False) -> SourceImage:
        """Return a source image by hash or short hash.

        Args:
            deleted: also find images in the trash (restorable ones).

        Raises:
            InvalidInput: ``ref`` is not 6 to 40 hex digits.
            ImageNotFound: no such (live, or with ``deleted`` restorable) image.
        """

    @abc.abstractmethod
    def list_source_images(self, org: str, query: SearchQuery | None = None) -> SourceImageList:
        """List or search an organization's source images.

        Args:
            query: filters, sort, ``limit``/``offset`` or ``cursor``, ``deleted`` (only
                images in the trash). Defaults to the first 100, newest first.

        Returns:
            A page with the total number of matches and, unless a numeric offset was given,
            a cursor continuing after the last item (the same cursor again once exhausted).

        Raises:
            InvalidInput: malformed cursor.
        """

    def find_by_binary_hash(self, org: str, binary_hash: str) -> list[SourceImage]:
        """Return every live image of ``org`` with this binary hash (all its variants)."""
        by_hash = (Filter("binary_hash", value=binary_hash),)
        query = SearchQuery(filters=by_hash, limit=2000, with_total=False)
        return list(self.list_source_images(org, query).items)

    def find_by_name(self, org: str, name: str, *, deleted: bool = False) -> SourceImage | None:
        """The image a file path shows: the oldest live image with exactly this name (with
        ``deleted``: the oldest restorable one); None if there is none.

        Raises:
            OrganizationNotFound: unknown organization.
        """
        query = SearchQuery(
            filters=(Filter("name", value=name),),
            sort=(SortKey("created"),),
            limit=1,
            deleted=deleted,
            with_total=False,
        )
        items = self.list_source_images(org, query).items
        return items[0] if items else None

    def find_by_name_or_folder(
        self, org: str, name: str, *, deleted: bool = False
    ) -> tuple[SourceImage | None, bool]:
        """:meth:`find_by_name` and, when it finds none, whether images (live, or with
        ``deleted`` restorable) have names inside ``name`` as a folder. Stores with an index
        answer in one lookup.

        Raises:
            OrganizationNotFound: unknown organization.
        """
        found = self.find_by_name(org, name, deleted=deleted)
        if found is not None:
            return found, False
        query = SearchQuery(  # sorted by name, so the name index answers at once
            filters=(Filter("name", value=name + "/", prefix=True),),
            sort=(SortKey("name"),),
            limit=1,
            deleted=deleted,
            with_total=False,
        )
        return None, bool(self.list_source_images(org, query).items)

    @abc.abstractmethod
    def open_source_image(self, org: str, ref: str) -> BinaryIO:
        """Open the stored bytes of a live image for reading (seekable; caller closes).

        Raises:
            ImageNotFound: no such live image.
        """

    def open_image(self, image: SourceImage) -> BinaryIO:
        """Open the stored bytes of a live image this store just returned to the same request
        (seekable; caller closes): stores that remember where those bytes are skip looking the
        image up again, so an image changed in the last moment may still be read as it was.

        Raises:
            ImageNotFound: it is not there (any more).
        """
        return self.open_source_image(image.organization, image.hash)

    # ----------------------------------------------------------------- deleting

    def source_image_md5(self, org: str, ref: str) -> str | None:
        """The md5 of a live image's stored bytes (rokkafs's own, for clients such as rclone
        that compare MD5s); None where the store cannot tell."""
        return self.get_source_image(org, ref).md5

    @abc.abstractmethod
    def delete_source_image(self, org: str, ref: str) -> None:
        """Soft-delete an image into the trash, restorable for ``config.trash_retention``.

        Raises:
            ImageNotFound: no such live image.
            Locked: the image is locked.
        """

    @abc.abstractmethod
    def delete_by_binary_hash(self, org: str, binary_hash: str) -> list[str]:
        """Soft-delete every live variant with this binary hash, all or none.

        Returns:
            The hashes deleted.

        Raises:
            ImageNotFound: no live image has this binary hash.
            Locked: one of them is locked (nothing is deleted).
        """

    @abc.abstractmethod
    def restore_source_image(self, org: str, ref: str) -> SourceImage:
        """Bring an image back from the trash (a live image is returned unchanged).

        Raises:
            ImageNotFound: never existed, or purged / past the retention time.
        """

    @abc.abstractmethod
    def purge_trash(self, *, older_than: timedelta | None = None) -> PurgeResult:
        """Remove trashed images deleted longer ago than ``older_than`` for good.

        Args:
            older_than: defaults to ``config.trash_retention``; ``timedelta(0)`` empties the
                whole trash.

        Returns:
            Counts of removed images and garbage-collected blobs.
        """

    # ----------------------------------------------------------------- copying

    @abc.abstractmethod
    def copy_source_image(
        self, org: str, ref: str, destination: str, *, overwrite: bool = True
    ) -> CopyOutcome:
        """Copy a live image to another organization: same hash, name and metadata.

        No bytes are copied: blobs are shared. The copy is independent afterwards (not
        locked, its own short hash).

        Returns:
            ``"created"`` or ``"overwritten"`` (the hash existed in the destination).

        Raises:
            ImageNotFound: no such live image.
            OrganizationNotFound: source or destination organization missing.
            ImageExists: the hash exists in the destination and ``overwrite`` is False.
            Locked: overwriting a locked image in the destination.
        """

    @abc.abstractmethod
    def copy_source_images(
        self, org: str, refs: Iterable[str], destination: str, *, overwrite: bool = True
    ) -> CopyResult:
        """Copy up to 100 images at once, reporting per hash.

        Hashes that exist in the destination are overwritten (with ``overwrite``) or left
        alone, and reported as ``existing`` either way; unknown ones as ``notfound``.

        Raises:
            InvalidInput: more than 100 hashes.
            OrganizationNotFound: source or destination organization missing.
        """

    def copy_all_source_images(
        self, org: str, destination: str, *, overwrite: bool = True
    ) -> CopyAllResult:
        """Copy every live image of ``org`` to ``destination`` (rokka CLIs' ``copy-all``).

        Idempotent: re-running after an interruption reports the copied ones as existing.
        This default pages with a cursor and copies 100 at a time, as rokka's CLIs do;
        implementations may do it in fewer, larger steps.

        Raises:
            OrganizationNotFound: source or destination organization missing.
            InvalidInput: ``org`` and ``destination`` are the same.
        """
        if org == destination:
            raise InvalidInput("source and destination organization are the same")
        self.get_organization(destination)
        from rokkafs.store.paging import iter_pages  # (it imports this module)

        created = existing = 0
        for page in iter_pages(self, org, SearchQuery(limit=MAX_BATCH_COPY)):
            if page.items:
                result = self.copy_source_images(
                    org, [i.hash for i in page.items], destination, overwrite=overwrite
                )
                created += len(result.created)
                existing += len(result.existing)
        return CopyAllResult(created, existing)

    # ----------------------------------------------------------------- housekeeping

    @abc.abstractmethod
    def check(self, *, deep: bool = False) -> CheckReport:
        """Check the store's consistency.

        Args:
            deep: also re-hash every blob against its id.
        """

    def close(self) -> None:
        """Release connections and files; the store is unusable afterwards."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
