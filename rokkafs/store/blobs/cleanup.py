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

One clean-up runs at a time across all nodes (:meth:`MetadataIndex.cleanup_turn`). Each names
its marks (a claim) and removes and confirms only its own, unless another confirmed them
first; marks of a clean-up that stopped between 2 and 3 are finished by a later one once they
are 15 minutes old (so two clean-ups that ran at once, after a lost turn, never finish each
other's work while it is under way). Memory stays flat with the number of blobs.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence

from rokkafs.store.blobs import BlobInfo, BlobStorage
from rokkafs.store.index import MetadataIndex

__all__ = ["BLOB_GRACE_SECONDS", "iter_unrecorded", "remove_unrecorded_blobs"]

BLOB_GRACE_SECONDS = 3600.0
UNFINISHED_SECONDS = 900.0  # (marks older than this are a stopped clean-up's, not a slow one's)
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


def _delete(index: MetadataIndex, blobs: BlobStorage, blob_ids: list[str], claim: str) -> None:
    """Remove the bytes of blobs ``claim`` marked, unless another clean-up finished them
    meanwhile (then an upload may have published them again), and confirm."""
    with index.lookup() as tx:
        mine = {b for b, c in tx.blobs_being_deleted() if c == claim}
    still = [blob_id for blob_id in blob_ids if blob_id in mine]
    for blob_id in still:
        blobs.delete(blob_id)
    with index.write() as tx:
        tx.confirm_deleted(still, claim=claim, now=time.time())


def _doom_and_delete(
    index: MetadataIndex, blobs: BlobStorage, blob_ids: Sequence[str], claim: str
) -> int:
    with index.write() as tx:
        doomed = tx.doom_blobs(blob_ids, now=time.time(), claim=claim)
    _delete(index, blobs, doomed, claim)
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
        with index.lookup() as tx:  # (a clean-up that stopped half-way, long enough ago)
            unfinished = tx.blobs_being_deleted(before=time.time() - UNFINISHED_SECONDS)
        for claim in sorted({c for _, c in unfinished}):
            _delete(index, blobs, [b for b, c in unfinished if c == claim], claim)
        claim = uuid.uuid4().hex
        removed = 0
        for start in range(0, len(released), _PAGE):
            removed += _doom_and_delete(index, blobs, released[start : start + _PAGE], claim)
        cutoff = time.time() - grace_seconds
        old = (b for b in iter_unrecorded(index, blobs) if b.published < cutoff)
        for page in _pages(old):
            removed += _doom_and_delete(index, blobs, [blob.blob_id for blob in page], claim)
        with index.write() as tx:
            tx.forget_deletions(before=time.time() - max(grace_seconds, BLOB_GRACE_SECONDS))
        return removed
