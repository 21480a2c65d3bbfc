"""Blobs are published before the transaction that records them and removed outside any
write transaction (rokkafs.store.blobs.publication, rokkafs.store.blobs.cleanup): whatever the
interleaving, a recorded blob keeps its bytes. Run on every index engine."""

from __future__ import annotations

import hashlib
import io
import os
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import images
import pytest
from blobsupport import IndexFactory, staged_blob

from rokkafs.errors import BackendUnavailable
from rokkafs.store.blobs import BlobStorage, cleanup, publication
from rokkafs.store.blobs.cleanup import (
    BLOB_GRACE_SECONDS,
    UNFINISHED_SECONDS,
    remove_unrecorded_blobs,
)
from rokkafs.store.blobs.files import FileBlobStorage
from rokkafs.store.blobs.publication import Publication, commit_with_blob
from rokkafs.store.index import IndexTransaction, MetadataIndex
from rokkafs.store.local import LocalStore
from rokkafs.store.maintenance import check


def record(tx: IndexTransaction, done: Publication) -> str:
    done.record(tx)
    return done.staged.blob_id


def age(storage: FileBlobStorage, blob_id: str, seconds: float) -> None:
    when = time.time() - seconds
    os.utime(storage.path(blob_id), (when, when))


class BeforeWrite(MetadataIndex):
    """An index that runs ``hook`` once, just before the first write transaction opens (as
    another node would, between an upload's publishing and its transaction)."""

    def __init__(self, inner: MetadataIndex, hook: object) -> None:
        self.inner, self.hook = inner, hook

    def read(self) -> AbstractContextManager[IndexTransaction]:
        return self.inner.read()

    def lookup(self) -> AbstractContextManager[IndexTransaction]:
        return self.inner.lookup()

    @contextmanager
    def write(self) -> Iterator[IndexTransaction]:
        hook, self.hook = self.hook, None
        if callable(hook):
            hook()
        with self.inner.write() as tx:
            yield tx

    def cleanup_turn(self) -> AbstractContextManager[bool]:
        return self.inner.cleanup_turn()

    def close(self) -> None:
        self.inner.close()


def test_an_upload_of_bytes_removed_meanwhile_publishes_them_again(
    index: MetadataIndex, blob_storage: BlobStorage
) -> None:
    # bytes left by a crash long ago; an upload of the same bytes finds them there, and a
    # clean-up removes them before its transaction: the upload must publish them again
    leftover = staged_blob(blob_storage, b"the same bytes")
    blob_storage.publish(leftover.path, leftover.blob_id)
    upload = staged_blob(blob_storage, b"the same bytes")
    racing = BeforeWrite(
        index, lambda: remove_unrecorded_blobs(index, blob_storage, grace_seconds=0)
    )
    assert commit_with_blob(racing, blob_storage, upload, record) == upload.blob_id
    assert racing.hook is None  # (the clean-up did run in between)
    assert blob_storage.exists(upload.blob_id)
    assert check(index, blob_storage, deep=True).ok


def test_a_record_removed_meanwhile_gets_its_bytes_published(
    index: MetadataIndex, blob_storage: BlobStorage
) -> None:
    first = staged_blob(blob_storage, b"bytes of an image purged meanwhile")
    assert commit_with_blob(index, blob_storage, first, record)

    def purge_and_clean() -> None:
        with index.write() as tx:
            tx.delete_blob(first.blob_id)
        remove_unrecorded_blobs(index, blob_storage, released=[first.blob_id])

    again = staged_blob(blob_storage, b"bytes of an image purged meanwhile")
    racing = BeforeWrite(index, purge_and_clean)  # (recorded when looked up: not published)
    commit_with_blob(racing, blob_storage, again, record)
    assert blob_storage.exists(again.blob_id)
    assert check(index, blob_storage, deep=True).ok


def test_an_upload_waits_while_a_clean_up_removes_its_bytes(
    index: MetadataIndex, blob_storage: FileBlobStorage
) -> None:
    upload = staged_blob(blob_storage, b"bytes being removed")
    blob_storage.publish(upload.path, upload.blob_id)
    with index.write() as tx:  # (a clean-up has marked them, and is slow to remove them)
        marked = tx.doom_blobs([upload.blob_id], now=time.time(), claim="slow")
        assert marked == [upload.blob_id]

    def finish() -> None:
        time.sleep(0.3)
        blob_storage.delete(upload.blob_id)
        with index.write() as tx:
            tx.confirm_deleted([upload.blob_id], claim="slow", now=time.time())

    finisher = threading.Thread(target=finish)
    finisher.start()
    commit_with_blob(index, blob_storage, upload, record)
    finisher.join()
    assert blob_storage.exists(upload.blob_id)
    assert check(index, blob_storage, deep=True).ok


def test_an_upload_gives_up_with_503_if_the_clean_up_never_finishes(
    index: MetadataIndex, blob_storage: BlobStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(publication, "DELETION_WAIT_SECONDS", 0.2)
    upload = staged_blob(blob_storage, b"bytes of a stuck clean-up")
    with index.write() as tx:  # (a clean-up that stopped long ago)
        stopped = time.time() - UNFINISHED_SECONDS - 1
        tx.doom_blobs([upload.blob_id], now=stopped, claim="stopped")
    with pytest.raises(BackendUnavailable, match="cleaning up"):
        commit_with_blob(index, blob_storage, upload, record)
    with index.read() as tx:
        assert tx.recorded_among([upload.blob_id]) == set()  # (no record without bytes)
    # the next clean-up finishes the stuck one; then the upload goes through
    assert remove_unrecorded_blobs(index, blob_storage) == 0
    commit_with_blob(index, blob_storage, upload, record)
    assert blob_storage.exists(upload.blob_id)


def test_young_leftovers_stay_for_the_grace_period(index: MetadataIndex, tmp_path: Path) -> None:
    blob_storage = FileBlobStorage(tmp_path / "aged")  # (files can be made older)
    young = staged_blob(blob_storage, b"an upload on its way")
    old = staged_blob(blob_storage, b"left by a crash")
    kept = staged_blob(blob_storage, b"an image")
    for blob in (young, old):
        blob_storage.publish(blob.path, blob.blob_id)
    commit_with_blob(index, blob_storage, kept, record)
    age(blob_storage, old.blob_id, BLOB_GRACE_SECONDS + 10)
    age(blob_storage, kept.blob_id, BLOB_GRACE_SECONDS + 10)
    assert remove_unrecorded_blobs(index, blob_storage) == 1
    assert [b.blob_id for b in blob_storage.iter_blobs()] == sorted([young.blob_id, kept.blob_id])
    notes = check(index, blob_storage, deep=False).notes
    assert [n for n in notes if "orphan" in n] == [f"orphan blob file {young.blob_id}"]


def test_one_clean_up_at_a_time_across_processes(make_index: IndexFactory) -> None:
    one, other = make_index(), make_index()
    with one.cleanup_turn() as mine:
        assert mine
        with other.cleanup_turn() as theirs:
            assert not theirs
    with other.cleanup_turn() as theirs:
        assert theirs


def test_deletion_epochs_and_their_records(index: MetadataIndex) -> None:
    blob_id = hashlib.sha1(b"x").hexdigest()
    with index.lookup() as tx:
        assert tx.blob_status(blob_id) == (False, 0)
    with index.write() as tx:
        assert tx.add_blob(blob_id, 1, epoch=0) is True
        assert tx.add_blob(blob_id, 1, epoch=0) is False
        assert tx.doom_blobs([blob_id], now=1.0, claim="a") == []  # (recorded: never marked)
        tx.delete_blob(blob_id)
        assert tx.doom_blobs([blob_id], now=1.0, claim="a") == [blob_id]
        assert tx.doom_blobs([blob_id], now=1.5, claim="b") == [blob_id]
        assert tx.blobs_being_deleted(before=1.2) == [(blob_id, "a")]
        tx.confirm_deleted([blob_id], claim="a", now=2.0)
        assert tx.blobs_being_deleted() == [(blob_id, "b")]  # (another's mark stays)
        tx.confirm_deleted([blob_id], claim="b", now=2.0)
        assert tx.blobs_being_deleted() == []
    with index.lookup() as tx:
        recorded, epoch = tx.blob_status(blob_id)
    assert not recorded and epoch > 0
    with index.write() as tx, pytest.raises(publication.BlobBeingDeleted):
        tx.add_blob(blob_id, 1, epoch=epoch - 1)
    with index.write() as tx:
        assert tx.add_blob(blob_id, 1, epoch=epoch) is True
        tx.forget_deletions(before=3.0)
    with index.lookup() as tx:  # (the confirmations are forgotten: the epoch may go back…)
        recorded, later = tx.blob_status(blob_id)
    assert recorded and later <= epoch
    other = hashlib.sha1(b"y").hexdigest()
    with index.write() as tx:  # (…but a deletion after it is always past it)
        tx.doom_blobs([other], now=4.0, claim="c")
        tx.confirm_deleted([other], claim="c", now=4.0)
    with index.write() as tx, pytest.raises(publication.BlobBeingDeleted):
        tx.add_blob(other, 1, epoch=later)


class Watched(FileBlobStorage):
    """File blobs that note whether an index write transaction was open at each publish."""

    def __init__(self, root: Path, index: Tracking) -> None:
        super().__init__(root)
        self.index, self.under_lock = index, list[bool]()

    def publish(self, staged: Path, blob_id: str) -> bool:
        self.under_lock.append(self.index.writing)
        return super().publish(staged, blob_id)


class Tracking(BeforeWrite):
    writing = False

    @contextmanager
    def write(self) -> Iterator[IndexTransaction]:
        with self.inner.write() as tx:
            self.writing = True
            try:
                yield tx
            finally:
                self.writing = False


def test_uploads_publish_their_bytes_outside_the_write_transaction(
    index: MetadataIndex, tmp_path: Path
) -> None:
    tracking = Tracking(index, None)
    blobs = Watched(tmp_path / "watched", tracking)
    store = LocalStore(tmp_path / "data", index=tracking, blobs=blobs)
    store.create_organization("acme")
    store.create_source_image("acme", io.BytesIO(images.png(4)), name="a.png")
    store.write_source_image("acme", io.BytesIO(images.png(5)), name="b.png")
    assert blobs.under_lock == [False, False]
    assert store.check(deep=True).ok


def test_a_clean_up_resumed_after_another_finished_its_work_removes_nothing(
    index: MetadataIndex, blob_storage: BlobStorage
) -> None:
    # clean-up A marked X and stopped (its turn lost); B finished A's marks; an upload then
    # published X again and recorded it; A resumes: it must not remove the bytes
    leftover = staged_blob(blob_storage, b"bytes of a stalled clean-up")
    blob_storage.publish(leftover.path, leftover.blob_id)
    with index.write() as tx:
        stalled = time.time() - UNFINISHED_SECONDS - 1
        tx.doom_blobs([leftover.blob_id], now=stalled, claim="A")
    remove_unrecorded_blobs(index, blob_storage, grace_seconds=BLOB_GRACE_SECONDS)  # (B)
    assert not blob_storage.exists(leftover.blob_id)
    upload = staged_blob(blob_storage, b"bytes of a stalled clean-up")
    commit_with_blob(index, blob_storage, upload, record)
    cleanup._delete(index, blob_storage, [leftover.blob_id], "A")  # (A resumes)
    assert blob_storage.exists(upload.blob_id)
    assert check(index, blob_storage, deep=True).ok
