"""LocalStore: the embedded store — a SQLite index and content-addressed blob files.

Data directory layout::

    index.sqlite3 (+ -wal, -shm)    the metadata index (WAL)
    blobs/ab/<sha1>                 blob files, shared by every image with those bytes
    tmp/                            staging files of uploads in progress

Consistency: an upload is staged and fsynced (or a face's staging file is moved in), its blob
is linked into place (before, never inside, the index transaction), then one exclusive index
transaction writes its records. Garbage collection
first commits that blobs are unreferenced, then deletes the unrecorded files inside a second
exclusive transaction, so it can neither race an upload of the same bytes nor, by crashing,
leave an image whose file is gone (see :func:`rokkafs.store.maintenance.purge`). A crash at
any moment leaves at worst an orphan blob file or a staging file, which :meth:`check` reports
as notes and :meth:`purge_trash` removes.

Thread-safe, and safe for several processes opening the same directory (a server and a mount).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

from rokkafs.db.retry import retried_on_conflict
from rokkafs.errors import AlreadyExists, ImageExists, ImageNotFound, InvalidInput
from rokkafs.model import (
    CheckReport,
    CopyAllResult,
    CopyOutcome,
    CopyResult,
    Organization,
    PurgeResult,
    SourceImage,
    validate_hash_ref,
    validate_image_name,
    validate_organization_name,
    validate_organization_options,
)
from rokkafs.rokka.metadata import validate_dynamic_metadata, validate_user_metadata
from rokkafs.rokka.search import Filter, SearchQuery
from rokkafs.staging import HandedOver, Staged, read_chunks, stage_chunks
from rokkafs.store import maintenance
from rokkafs.store.arguments import binary_hash_argument
from rokkafs.store.base import MAX_BATCH_COPY, Store
from rokkafs.store.blobs import BlobStorage
from rokkafs.store.blobs.files import FileBlobStorage
from rokkafs.store.config import OptimizeSource, StoreConfig
from rokkafs.store.copying import copy_all, copy_batch, copy_one
from rokkafs.store.fetch import fetch_url
from rokkafs.store.index import MetadataIndex
from rokkafs.store.index.sqlite import SqliteIndex
from rokkafs.store.local_reading import LocalReading
from rokkafs.store.local_upload import (
    PathWrite,
    UploadRequest,
    adopt_file,
    commit_path_write,
    commit_upload,
)
from rokkafs.store.lookups import (
    require_org,
)
from rokkafs.store.records import (
    deleted,
    require_unlocked,
    undeleted,
)

__all__ = ["LocalStore"]


class LocalStore(LocalReading, Store):
    """The embedded store in a data directory."""

    def __init__(
        self,
        data_dir: Path | str,
        config: StoreConfig | None = None,
        *,
        clock: Callable[[], float] = time.time,
        index: MetadataIndex | None = None,
        blobs: BlobStorage | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).absolute()  # (a mount may change its directory)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.config = config or StoreConfig()
        self._clock = clock
        self._blobs = blobs or FileBlobStorage(self.data_dir)
        self._index = index or SqliteIndex(self.data_dir / "index.sqlite3")
        self._known_orgs: dict[str, datetime] = {}  # (never deleted; name -> created)
        self._last_found = threading.local()

    # ----------------------------------------------------------------- organizations

    @retried_on_conflict
    def create_organization(
        self, name: str, *, display_name: str | None = None, billing_email: str = ""
    ) -> Organization:
        validate_organization_name(name)
        organization = Organization(
            id=str(uuid.uuid4()),
            name=name,
            display_name=display_name or name,
            billing_email=billing_email,
            created=datetime.fromtimestamp(int(self._clock()), tz=UTC),
            master_organization=name,
        )
        with self._index.write() as tx:
            if tx.get_organization(name) is not None:
                raise AlreadyExists(f"organization {name!r} exists already")
            tx.insert_organization(organization)
        return organization

    def get_organization(self, name: str) -> Organization:
        with self._index.lookup() as tx:
            return require_org(tx, name)

    def list_organizations(self) -> list[Organization]:
        with self._index.lookup() as tx:
            return tx.list_organizations()

    @retried_on_conflict
    def set_organization_options(self, name: str, options: Mapping[str, object]) -> Organization:
        validated = validate_organization_options(options)
        with self._index.write() as tx:
            organization = require_org(tx, name)
            merged = {**organization.options, **validated}
            tx.set_organization_options(name, merged)
            return replace(organization, options=merged)

    # ----------------------------------------------------------------- creating

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
        request = UploadRequest(
            org,
            validate_image_name(name),
            validate_user_metadata(user_metadata or {}),
            validate_dynamic_metadata(dynamic_metadata or {}),
            optimize_source,
            protected,
            mtime,
        )
        return self._commit(request, self._stage(org, data))

    def _stage(self, org: str, data: IO[bytes]) -> Staged:
        max_bytes = self.config.max_upload_bytes
        staged = None
        if isinstance(data, HandedOver):  # a face's staging file: moved in, not copied
            staged = adopt_file(self._blobs, data.staged, max_bytes=max_bytes)
        if staged is None:
            self.get_organization(org)  # (before reading a whole upload for nothing)
            staged = stage_chunks(self._blobs, read_chunks(data), max_bytes=max_bytes)
        return staged

    def write_source_image(
        self,
        org: str,
        data: IO[bytes],
        *,
        name: str,
        replacing: str | None = None,
        mtime: float | None = None,
    ) -> SourceImage:
        name = validate_image_name(name)
        if replacing is not None:
            validate_hash_ref(replacing)
        write = PathWrite(org, name, replacing, mtime)
        staged = self._stage(org, data)
        return commit_path_write(
            self._index,
            self._blobs,
            self.config,
            write,
            staged,
            now=self._clock(),
            trash_cutoff=self._trash_cutoff(),
            require_org=self._require_known_org,
        )

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
        request = UploadRequest(
            org,
            validate_image_name(name) if name is not None else "unnamed",
            validate_user_metadata(user_metadata or {}),
            validate_dynamic_metadata(dynamic_metadata or {}),
            optimize_source,
        )
        self.get_organization(org)
        with fetch_url(
            url,
            timeout=self.config.url_timeout_seconds,
            allow_private=self.config.allow_private_urls,
        ) as (url_name, chunks):
            if name is None:
                request = replace(request, name=validate_image_name(url_name))
            staged = stage_chunks(self._blobs, chunks, max_bytes=self.config.max_upload_bytes)
        return self._commit(request, staged)

    def _commit(self, request: UploadRequest, staged: Staged) -> SourceImage:
        return commit_upload(
            self._index, self._blobs, self.config, request, staged, now=self._clock()
        )

    # ----------------------------------------------------------------- deleting

    def delete_source_image(self, org: str, ref: str) -> None:
        def trash(image: SourceImage) -> SourceImage:
            require_unlocked(image, "be deleted")
            return deleted(image, self._clock())

        self._change(org, ref, trash)

    @retried_on_conflict
    def delete_by_binary_hash(self, org: str, binary_hash: str) -> list[str]:
        binary_hash_argument(binary_hash)
        with self._index.write() as tx:
            require_org(tx, org)
            query = SearchQuery(filters=(Filter("binary_hash", value=binary_hash),), limit=2000)
            matches = tx.search(org, query, trash_cutoff=self._trash_cutoff()).items
            if not matches:
                raise ImageNotFound(f"no source image with binary hash {binary_hash}")
            for stored in matches:
                require_unlocked(stored.image, "be deleted")
            now = self._clock()
            for stored in matches:
                tx.put_image(replace(stored, image=deleted(stored.image, now)))
            return [s.image.hash for s in matches]

    @retried_on_conflict
    def restore_source_image(self, org: str, ref: str) -> SourceImage:
        with self._index.write() as tx:
            stored = self._require_image(tx, org, ref, include_deleted=True)
            image = undeleted(stored.image)
            tx.put_image(replace(stored, image=image))
            return image

    def purge_trash(self, *, older_than: timedelta | None = None) -> PurgeResult:
        retention = self.config.trash_retention if older_than is None else older_than
        cutoff = self._clock() - retention.total_seconds()
        return maintenance.purge(self._index, self._blobs, deleted_before=cutoff)

    def remove_leftovers(self) -> int:
        """Remove what crashes left behind, now rather than after the grace period: blobs no
        record names (an upload on its way with one publishes it again) and staging files
        older than a day. Returns how many."""
        return maintenance.remove_leftovers(self._index, self._blobs)

    # ----------------------------------------------------------------- copying

    @retried_on_conflict
    def copy_source_image(
        self, org: str, ref: str, destination: str, *, overwrite: bool = True
    ) -> CopyOutcome:
        with self._index.write() as tx:
            source = self._require_image(tx, org, ref)
            outcome = copy_one(tx, source, destination, overwrite=overwrite, now=self._clock())
        if outcome == "existing":
            raise ImageExists(f"source image {source.image.hash} exists in {destination!r}")
        return outcome

    @retried_on_conflict
    def copy_source_images(
        self, org: str, refs: Iterable[str], destination: str, *, overwrite: bool = True
    ) -> CopyResult:
        wanted = list(dict.fromkeys(refs))
        if len(wanted) > MAX_BATCH_COPY:
            raise InvalidInput(f"at most {MAX_BATCH_COPY} hashes can be copied at once")
        with self._index.write() as tx:
            require_org(tx, org)
            require_org(tx, destination)
            return copy_batch(tx, org, wanted, destination, overwrite=overwrite, now=self._clock())

    def copy_all_source_images(
        self, org: str, destination: str, *, overwrite: bool = True
    ) -> CopyAllResult:
        return copy_all(self._index, org, destination, overwrite=overwrite, clock=self._clock)

    # ----------------------------------------------------------------- housekeeping

    def check(self, *, deep: bool = False) -> CheckReport:
        return maintenance.check(self._index, self._blobs, deep=deep)

    def close(self) -> None:
        self._index.close()
