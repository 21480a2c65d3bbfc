"""Moving a store's bytes from one blob storage to another (the data directory's files into
an S3 bucket, with ``rokkafs migrate-blobs``). The metadata stays where it is.

Resumable: a blob the target has already is not sent again (blobs never change), so a run
that was stopped is simply started again. Verifiable: :func:`compare_blobs` walks both
listings in id order and names every blob missing or of another size in the target, and
with ``deep`` re-hashes every one there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rokkafs.store.blobs import BlobInfo, BlobStorage

__all__ = ["BlobMove", "compare_blobs", "move_blobs"]


@dataclass(frozen=True, slots=True)
class BlobMove:
    """What a move did: blobs sent, blobs the target had, bytes sent."""

    sent: int
    present: int
    sent_bytes: int


def move_blobs(
    source: BlobStorage,
    target: BlobStorage,
    *,
    progress: Callable[[int], object] = lambda size: None,
) -> BlobMove:
    """Copy every blob of ``source`` that ``target`` lacks (``progress`` gets each one's
    size)."""
    sent = present = sent_bytes = 0
    for blob in source.iter_blobs():
        if target.exists(blob.blob_id):
            present += 1
        else:
            staged = source.stage_copy(blob.blob_id)
            try:
                target.publish(staged, blob.blob_id)
            finally:
                staged.unlink(missing_ok=True)
            sent, sent_bytes = sent + 1, sent_bytes + blob.size
        progress(blob.size)
    return BlobMove(sent, present, sent_bytes)


def compare_blobs(source: BlobStorage, target: BlobStorage, *, deep: bool) -> list[str]:
    """What ``target`` lacks of ``source`` (missing blobs, other sizes, with ``deep`` bytes
    that do not hash to their id), one sentence each; empty if it has everything."""
    problems: list[str] = []
    theirs = target.iter_blobs()
    other: BlobInfo | None = next(theirs, None)
    for blob in source.iter_blobs():
        while other is not None and other.blob_id < blob.blob_id:
            other = next(theirs, None)
        if other is None or other.blob_id != blob.blob_id:
            problems.append(f"blob {blob.blob_id} is missing")
        elif other.size != blob.size:
            problems.append(f"blob {blob.blob_id} has {other.size} bytes, not {blob.size}")
        elif deep and not target.verify(blob.blob_id):
            problems.append(f"blob {blob.blob_id} does not match its bytes")
    return problems
