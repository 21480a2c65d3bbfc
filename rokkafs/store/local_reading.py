"""LocalStore's part that reads source images and their bytes, each in one lookup of the
index (no transaction: one statement reads one consistent state)."""

from __future__ import annotations

import hashlib
import threading
import time
from datetime import datetime
from typing import BinaryIO

from rokkafs.db.retry import retried_on_conflict
from rokkafs.errors import ImageNotFound, InvalidInput
from rokkafs.model import SourceImage, SourceImageList
from rokkafs.rokka.search import SearchQuery, encode_cursor
from rokkafs.staging import read_chunks
from rokkafs.store.blobs import BlobStorage
from rokkafs.store.index import IndexTransaction, StoredImage
from rokkafs.store.local_changes import LocalChanges
from rokkafs.store.lookups import require_org

__all__ = ["FOUND_FRESH_SECONDS", "LocalReading"]

# (how long the record a lookup found may stand for the image when its bytes are opened: a
# request resolves a path and opens it within this)
FOUND_FRESH_SECONDS = 1.0


class LocalReading(LocalChanges):
    """Reading over LocalStore's index and blobs (a part of :class:`LocalStore`, over the
    helpers of :class:`LocalChanges`)."""

    _blobs: BlobStorage
    _known_orgs: dict[str, datetime]
    _last_found: threading.local  # (.stored: the record a lookup found last on this thread)

    # ----------------------------------------------------------------- reading

    def get_source_image(self, org: str, ref: str, *, deleted: bool = False) -> SourceImage:
        with self._index.lookup() as tx:
            return self._found(self._require_image(tx, org, ref, include_deleted=deleted))

    def list_source_images(self, org: str, query: SearchQuery | None = None) -> SourceImageList:
        query = query or SearchQuery()
        scope = self._index.read() if query.with_total else self._index.lookup()  # (count = items)
        with scope as tx:
            try:
                page = tx.search(org, query, trash_cutoff=self._trash_cutoff())
            except InvalidInput:
                require_org(tx, org)  # an unknown organization is the first thing to say
                raise
            if not page.items:  # (images found prove their organization exists)
                self._require_known_org(tx, org)
        cursor: str | None = None
        if query.offset is None:
            cursor = encode_cursor(page.last_key) if page.last_key else query.cursor
        return SourceImageList(page.total, tuple(s.image for s in page.items), cursor)

    def find_by_name(self, org: str, name: str, *, deleted: bool = False) -> SourceImage | None:
        cutoff = self._trash_cutoff()
        with self._index.lookup() as tx:
            found = tx.image_named(org, name, deleted=deleted, trash_cutoff=cutoff)
            if found is None:
                self._require_known_org(tx, org)
        return None if found is None else self._found(found)

    def find_by_name_or_folder(
        self, org: str, name: str, *, deleted: bool = False
    ) -> tuple[SourceImage | None, bool]:
        cutoff = self._trash_cutoff()
        with self._index.lookup() as tx:
            found, inside = tx.image_named_or_below(org, name, deleted=deleted, trash_cutoff=cutoff)
            if found is None and not inside:
                self._require_known_org(tx, org)
        return (None if found is None else self._found(found)), inside

    def _found(self, stored: StoredImage) -> SourceImage:
        self._last_found.stored = (stored, time.monotonic())
        return stored.image

    def syncs_staging(self) -> bool:
        return self._blobs.syncs_staging

    def organization_created(self, name: str) -> datetime:
        created = self._known_orgs.get(name)
        if created is None:
            with self._index.lookup() as tx:
                self._require_known_org(tx, name)
            created = self._known_orgs[name]
        return created

    def _require_known_org(self, tx: IndexTransaction, org: str) -> None:
        """That the organization exists, asked of the index once per process (organizations
        are never deleted)."""
        if org not in self._known_orgs:
            self._known_orgs[org] = require_org(tx, org).created

    def open_source_image(self, org: str, ref: str) -> BinaryIO:
        with self._index.lookup() as tx:
            stored = self._require_image(tx, org, ref)
        try:
            return self._blobs.open(stored.blob_id)
        except FileNotFoundError:
            raise ImageNotFound(f"source image {ref} was removed while opening it") from None

    def open_image(self, image: SourceImage) -> BinaryIO:
        stored, when = getattr(self._last_found, "stored", (None, 0.0))
        fresh = time.monotonic() - when < FOUND_FRESH_SECONDS
        if stored is None or stored.image is not image or image.deleted or not fresh:
            return self.open_source_image(image.organization, image.hash)
        # (the very record a lookup just returned on this thread, for the same request: its
        # blob, without a second lookup)
        try:
            return self._blobs.open(stored.blob_id)
        except FileNotFoundError:
            raise ImageNotFound(f"source image {image.hash} was removed") from None

    @retried_on_conflict
    def source_image_md5(self, org: str, ref: str) -> str | None:
        with self._index.lookup() as tx:
            stored = self._require_image(tx, org, ref)
        if stored.image.md5 is not None:
            return stored.image.md5
        digest = hashlib.md5(usedforsecurity=False)  # (stored before MD5s were kept)
        with self._blobs.open(stored.blob_id) as data:
            for chunk in read_chunks(data):
                digest.update(chunk)
        md5 = digest.hexdigest()
        with self._index.write() as tx:
            tx.set_md5(stored.blob_id, md5)
        return md5
