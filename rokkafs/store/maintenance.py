"""Trash purge with blob garbage collection, and the consistency check."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from rokkafs.errors import BackendUnavailable
from rokkafs.model import CheckReport, PurgeResult
from rokkafs.store.blobs import BlobInfo, BlobStorage
from rokkafs.store.blobs.cleanup import BLOB_GRACE_SECONDS, remove_unrecorded_blobs
from rokkafs.store.index import MetadataIndex

__all__ = [
    "STALE_STAGING_SECONDS",
    "abort_unfinished_uploads",
    "check",
    "purge",
    "remove_leftovers",
    "side_file_notes",
    "unfinished_upload_notes",
]

STALE_STAGING_SECONDS = 86_400.0
_PAGE = 1000

log = logging.getLogger(__name__)


def purge(index: MetadataIndex, blobs: BlobStorage, *, deleted_before: float) -> PurgeResult:
    """Remove images trashed before the given time, then the blobs nothing refers to.

    The records go in one exclusive transaction (expired images, and the blob records no
    image refers to any more); the bytes of unrecorded blobs then go in the clean-up of
    :mod:`rokkafs.store.blobs.cleanup`, outside that transaction. A crash in between leaves
    unrecorded blobs, which the next purge removes.
    """
    with index.write() as tx:
        images = tx.purge_images(deleted_before=deleted_before)
        unreferenced = tx.unreferenced_blobs()
        for blob_id, _ in unreferenced:
            tx.delete_blob(blob_id)
    remove_unrecorded_blobs(index, blobs, released=[blob_id for blob_id, _ in unreferenced])
    for path in blobs.stale_staging_files(STALE_STAGING_SECONDS):
        path.unlink(missing_ok=True)
    abort_unfinished_uploads(blobs)
    return PurgeResult(images, len(unreferenced), sum(size for _, size in unreferenced))


def remove_leftovers(index: MetadataIndex, blobs: BlobStorage) -> int:
    """Remove every unrecorded blob at once (no grace period), the stale staging files and
    the multipart uploads a stopped node left."""
    removed = remove_unrecorded_blobs(index, blobs, grace_seconds=0) or 0
    for path in blobs.stale_staging_files(STALE_STAGING_SECONDS):
        path.unlink(missing_ok=True)
        removed += 1
    return removed + abort_unfinished_uploads(blobs)


def unfinished_upload_notes(blobs: BlobStorage) -> list[str]:
    """The multipart uploads a stopped node left unfinished, as notes of a check."""
    try:
        return [
            f"unfinished multipart upload of {u.key.rsplit('/', 1)[-1]} (its parts are "
            "removed an hour after it began)"
            for u in blobs.unfinished_uploads()
        ]
    except BackendUnavailable as exc:  # (keys without s3:ListBucketMultipartUploads)
        return [f"unfinished multipart uploads could not be listed: {exc}"]


def side_file_notes(side: BlobStorage) -> list[str]:
    """The notes of a check about the side files' storage (the WebDAV face's, with a prefix
    of its own in a bucket): their unfinished multipart uploads."""
    return [f"side files: {note}" for note in unfinished_upload_notes(side)]


def abort_unfinished_uploads(blobs: BlobStorage) -> int:
    """Abort the multipart uploads a stopped node left (begun over an hour ago); a store that
    refuses to list them is logged, not an error of the purge."""
    try:
        return blobs.abort_unfinished_uploads(BLOB_GRACE_SECONDS)
    except BackendUnavailable as exc:
        log.warning("unfinished multipart uploads were not removed: %s", exc)
        return 0


def _recorded(index: MetadataIndex) -> Iterator[tuple[str, bool]]:
    """Every recorded blob id with whether an image refers to it, in id order."""
    after = ""
    while True:
        with index.lookup() as tx:
            page = tx.blob_page(after=after, limit=_PAGE)
        yield from ((blob_id, referenced) for blob_id, _, referenced in page)
        if len(page) < _PAGE:
            return
        after = page[-1][0]


def check(index: MetadataIndex, blobs: BlobStorage, *, deep: bool) -> CheckReport:
    """Compare the index with the stored blobs (and, if ``deep``, every blob with its bytes),
    walking both in id order (memory stays flat)."""
    problems: list[str] = []
    notes: list[str] = []
    present: Iterator[BlobInfo] = blobs.iter_blobs()
    stored = next(present, None)
    for blob_id, referenced in _recorded(index):
        while stored is not None and stored.blob_id < blob_id:
            notes.append(f"orphan blob file {stored.blob_id}")
            stored = next(present, None)
        if stored is None or stored.blob_id != blob_id:
            if referenced:
                problems.append(f"blob {blob_id} of an image is missing")
            else:
                notes.append(f"recorded blob {blob_id} is unused and missing")
            continue
        if deep and not blobs.verify(blob_id):
            problems.append(f"blob {blob_id} does not match its bytes")
        if not referenced:
            notes.append(f"recorded blob {blob_id} is unused")
        stored = next(present, None)
    while stored is not None:
        notes.append(f"orphan blob file {stored.blob_id}")
        stored = next(present, None)
    with index.read() as tx:
        unrecorded = tx.unrecorded_references()
        clashes = tx.live_name_clashes()
        being_deleted = tx.blobs_being_deleted()
    problems += [f"blob {b} is referenced but not recorded" for b in unrecorded]
    problems += [  # (stored before such names were refused; rename one of them)
        f"image {name!r} of {org!r} is also a folder of other images, which the file faces "
        "cannot show: rename one of them"
        for org, name in clashes
    ]
    notes += [f"blob {b} is being removed by a clean-up" for b, _ in being_deleted]
    notes += [f"stale staging file {p.name}" for p in blobs.stale_staging_files(0)]
    notes += unfinished_upload_notes(blobs)
    return CheckReport(tuple(problems), tuple(notes))
