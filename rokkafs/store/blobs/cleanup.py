"""Removing the blobs no record names, outside any long write transaction.

Blobs are published before the transaction that records them
(:mod:`rokkafs.store.blobs.publication`), so a blob without a record is either garbage (its images
were purged, or an upload crashed between publishing and committing) or an upload about to
commit. The clean-up leaves blobs younger than the grace period alone, and for the others:

1. lists the storage lazily, in pages, and asks the index which of each page are recorded
   (a short read each);
2. marks the unrecorded ones as being deleted, in a short write transaction that checks again
   that they are unrecorded (an upload that commits after this refuses these bytes);
3. removes their bytes, then confirms the deletions (a later epoch: an upload that published
   before it publishes again).

One clean-up runs at a time across all nodes (:meth:`MetadataIndex.cleanup_turn`); one that
crashed between 2 and 3 is finished by the next. Memory stays flat with the number of blobs.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Iterator, Sequence

from rokkafs.store.blobs import BlobInfo, BlobStorage
from rokkafs.store.index import MetadataIndex

__all__ = ["BLOB_GRACE_SECONDS", "iter_unrecorded", "remove_unrecorded_blobs"]

BLOB_GRACE_SECONDS = 3600.0
_PAGE = 500


def _pages(blobs: Iterable[BlobInfo]) -> Iterator[list[BlobInfo]]:
    iterator = iter(blobs)
    while page := list(itertools.islice(iterator, _PAGE)):
        yield page


def iter_unrecorded(index: MetadataIndex, blobs: BlobStorage) -> Iterator[BlobInfo]:
    """Every blob present in the storage that the index has no record of."""
    for page in _pages(blobs.iter_blobs()):
        with index.lookup() as tx:
            recorded = tx.recorded_among([blob.blob_id for blob in page])
        yield from (blob for blob in page if blob.blob_id not in recorded)


def _delete(index: MetadataIndex, blobs: BlobStorage, blob_ids: list[str]) -> None:
    for blob_id in blob_ids:
        blobs.delete(blob_id)
    with index.write() as tx:
        tx.confirm_deleted(blob_ids, now=time.time())


def _doom_and_delete(index: MetadataIndex, blobs: BlobStorage, blob_ids: Sequence[str]) -> int:
    with index.write() as tx:
        doomed = tx.doom_blobs(blob_ids, now=time.time())
    _delete(index, blobs, doomed)
    return len(doomed)


def remove_unrecorded_blobs(
    index: MetadataIndex,
    blobs: BlobStorage,
    *,
    released: Sequence[str] = (),
    grace_seconds: float = BLOB_GRACE_SECONDS,
) -> int | None:
    """Remove the blobs without a record published longer ago than ``grace_seconds``, and
    at once the ``released`` ones (whose records a purge just removed: no upload is on its
    way with them, and one that comes refuses them until they are gone).

    Returns:
        How many were removed; None if another clean-up is running (nothing was done).
    """
    with index.cleanup_turn() as mine:
        if not mine:
            return None
        with index.lookup() as tx:
            unfinished = tx.blobs_being_deleted()
        if unfinished:  # (a clean-up that stopped half-way)
            _delete(index, blobs, unfinished)
        removed = 0
        for start in range(0, len(released), _PAGE):
            removed += _doom_and_delete(index, blobs, released[start : start + _PAGE])
        cutoff = time.time() - grace_seconds
        old = (b for b in iter_unrecorded(index, blobs) if b.published < cutoff)
        for page in _pages(old):
            removed += _doom_and_delete(index, blobs, [blob.blob_id for blob in page])
        with index.write() as tx:
            tx.forget_deletions(before=time.time() - max(grace_seconds, BLOB_GRACE_SECONDS))
        return removed
