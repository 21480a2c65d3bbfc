"""Publishing a blob before the index transaction that records it.

An upload's bytes are published (linked into place, or PUT to an object store) *before* the
index transaction that records them, so that no node waits for another's transfer under a write
lock. The clean-up (:mod:`rokkafs.store.blobs.cleanup`) removes blobs no record names, outside
any write transaction. Two rules keep them apart (``docs/architecture.md#blobs``):

- the clean-up marks a blob as being deleted inside a write transaction, only if it is not
  recorded, removes the bytes, then confirms the deletion in a new row (a new, higher
  ``seq``);
- an uploader reads the deletion epoch (the highest ``seq``) *before* publishing; its
  transaction refuses to record a blob being deleted, or deleted after that epoch
  (:class:`~rokkafs.store.index.BlobBeingDeleted`), and then publishes again with a fresh
  epoch. A blob already recorded is not published at all (its bytes are there: recorded blobs
  are never deleted); if its record vanished meanwhile, it is published then.

So a recorded blob always has its bytes, and no upload ever relies on bytes the clean-up may
remove.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from rokkafs.db.retry import pauses
from rokkafs.errors import BackendUnavailable, TransactionConflict
from rokkafs.staging import Staged
from rokkafs.store.blobs import BlobStorage
from rokkafs.store.index import BlobBeingDeleted, IndexTransaction, MetadataIndex, PathScope

__all__ = ["Publication", "commit_with_blob"]

T = TypeVar("T")

DELETION_WAIT_SECONDS = 30.0


class _Unpublished(Exception):
    """The blob's record vanished after it was looked up, so its bytes must be published."""


@dataclass(slots=True)
class Publication:
    """One staged blob on its way into the index."""

    blobs: BlobStorage
    staged: Staged
    epoch: int = 0
    published: bool = False

    def record(self, tx: IndexTransaction) -> None:
        """Record the blob inside the transaction whose image record refers to it."""
        new = tx.add_blob(self.staged.blob_id, self.staged.size, epoch=self.epoch)
        if new and not self.published:
            raise _Unpublished(self.staged.blob_id)

    def publish(self, index: MetadataIndex | None) -> None:
        """Read the epoch (None: the one read just now is fresh), then publish the bytes (a
        no-op if they are there)."""
        if index is not None:
            with index.lookup() as tx:
                _, self.epoch = tx.blob_status(self.staged.blob_id)
        self.blobs.publish(self.staged.path, self.staged.blob_id)
        self.published = True


def commit_with_blob(
    index: MetadataIndex,
    blobs: BlobStorage,
    staged: Staged,
    body: Callable[[IndexTransaction, Publication], T],
    scope: PathScope | None = None,
) -> T:
    """Run ``body`` in an index write transaction, with ``staged`` (complete and
    durable) published first unless recorded already; ``body`` calls
    :meth:`Publication.record` if its records refer to the blob. Retried (``body`` must be
    safe to run again) while the clean-up removes the same bytes, and after the database
    refused the transaction for a concurrent one (:mod:`rokkafs.db.retry`). With ``scope``
    the transaction is a path write's (:meth:`MetadataIndex.write_path`).

    Raises:
        BackendUnavailable: the clean-up held the bytes for longer than 30 s.
        TransactionConflict: the database kept refusing the transaction.
    """
    publication = Publication(blobs, staged)
    with index.lookup() as tx:
        recorded, publication.epoch = tx.blob_status(staged.blob_id)
    if not recorded:
        publication.publish(None)
    deadline = time.monotonic() + DELETION_WAIT_SECONDS
    pause = 0.02
    conflict_pauses = pauses()
    while True:
        try:
            with index.write() if scope is None else index.write_path(scope) as tx:
                return body(tx, publication)
        except _Unpublished:
            pass
        except TransactionConflict:
            if not conflict_pauses:
                raise
            time.sleep(conflict_pauses.pop(0))
            continue
        except BlobBeingDeleted as exc:
            if time.monotonic() > deadline:
                raise BackendUnavailable(
                    "the storage is cleaning up these bytes; try again later"
                ) from exc
            time.sleep(pause)
            pause = min(pause * 2, 0.5)
        publication.publish(index)
