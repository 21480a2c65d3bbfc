"""Trash purge with blob garbage collection, and the consistency check."""

from __future__ import annotations

from rokkafs.model import CheckReport, PurgeResult
from rokkafs.store.blobs import BlobStorage
from rokkafs.store.index import MetadataIndex

__all__ = ["STALE_STAGING_SECONDS", "check", "purge"]

STALE_STAGING_SECONDS = 86_400.0


def purge(index: MetadataIndex, blobs: BlobStorage, *, deleted_before: float) -> PurgeResult:
    """Remove images trashed before the given time, then every blob nothing refers to.

    Two exclusive transactions, so that neither a crash nor a concurrent upload of the same
    bytes can leave an image without its blob file:

    1. forget the expired image records and the blob records nothing refers to (commit);
    2. delete every blob file the index does not know. The files are listed first, without
       the lock; then, inside one exclusive transaction, those of them without a record go.
       An upload publishes its file and records it inside one exclusive transaction, so a
       listed file without a record is garbage for sure — also one left by a crash between
       publishing and committing.

    A crash between the two leaves unrecorded files, which the next purge removes.
    """
    with index.write() as tx:
        images = tx.purge_images(deleted_before=deleted_before)
        unreferenced = tx.unreferenced_blobs()
        for blob_id, _ in unreferenced:
            tx.delete_blob(blob_id)
    present = list(blobs.iter_blob_ids())  # (listed outside the lock: it may take long)
    with index.write() as tx:
        known = tx.blob_ids()
        for blob_id in present:
            if blob_id not in known:
                blobs.delete(blob_id)
    for path in blobs.stale_staging_files(STALE_STAGING_SECONDS):
        path.unlink(missing_ok=True)
    return PurgeResult(images, len(unreferenced), sum(size for _, size in unreferenced))


def check(index: MetadataIndex, blobs: BlobStorage, *, deep: bool) -> CheckReport:
    """Compare the index with the blob files (and, if ``deep``, every blob with its bytes)."""
    with index.read() as tx:
        recorded = tx.blob_ids()
        referenced = tx.referenced_blob_ids()
    present = set(blobs.iter_blob_ids())
    problems = [f"blob {b} is referenced but not recorded" for b in sorted(referenced - recorded)]
    problems += [f"blob {b} of an image is missing" for b in sorted(referenced - present)]
    if deep:
        problems += [
            f"blob {b} does not match its bytes" for b in sorted(present) if not blobs.verify(b)
        ]
    with index.read() as tx:
        clashes = tx.live_name_clashes()
    problems += [  # (stored before such names were refused; rename one of them)
        f"image {name!r} of {org!r} is also a folder of other images, which the file faces "
        "cannot show: rename one of them"
        for org, name in clashes
    ]
    notes = [f"orphan blob file {b}" for b in sorted(present - recorded)]
    notes += [f"recorded blob {b} is unused" for b in sorted(recorded - referenced)]
    notes += [f"stale staging file {p.name}" for p in blobs.stale_staging_files(0)]
    return CheckReport(tuple(problems), tuple(notes))
