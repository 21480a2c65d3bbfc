"""The blob storage contract: every implementation passes these."""

from __future__ import annotations

import hashlib
import os
import time

import pytest
from blobsupport import stage

from rokkafs.store.blobs import BlobStorage


def test_publish_makes_a_blob_readable_as_a_stream(blob_storage: BlobStorage) -> None:
    path, blob_id = stage(blob_storage, b"x" * 3_000_000)
    assert not blob_storage.exists(blob_id)
    assert blob_storage.publish(path, blob_id) is True
    assert path.exists()  # (the staging file stays the caller's)
    assert blob_storage.exists(blob_id)
    with blob_storage.open(blob_id) as data:
        assert data.read(5) == b"xxxxx"
        data.seek(2_999_998)
        assert data.read() == b"xx"
    assert blob_storage.verify(blob_id)


def test_a_blob_reads_the_same_whichever_way_it_is_read(blob_storage: BlobStorage) -> None:
    """Across the 4 MiB windows a bucket is read in, backwards, from the end, past the end;
    and an empty blob."""
    content = os.urandom(9 * 1024 * 1024 + 123)
    path, blob_id = stage(blob_storage, content)
    blob_storage.publish(path, blob_id)
    with blob_storage.open(blob_id) as data:
        assert data.read() == content
        data.seek(4 * 1024 * 1024 - 10)
        assert data.read(20) == content[4 * 1024 * 1024 - 10 : 4 * 1024 * 1024 + 10]
        data.seek(100)
        assert data.read(50) == content[100:150]
        assert data.seek(-5, os.SEEK_END) == len(content) - 5
        assert data.read() == content[-5:]
        data.seek(len(content) + 10)
        assert data.read() == b""
    empty, empty_id = stage(blob_storage, b"")
    blob_storage.publish(empty, empty_id)
    with blob_storage.open(empty_id) as data:
        assert data.read() == b""
    with pytest.raises(FileNotFoundError):
        blob_storage.open("ab" * 20)


def test_publishing_existing_bytes_changes_nothing(blob_storage: BlobStorage) -> None:
    first, blob_id = stage(blob_storage, b"same bytes")
    assert blob_storage.publish(first, blob_id)
    (listed,) = blob_storage.iter_blobs()
    second, _ = stage(blob_storage, b"same bytes")
    assert blob_storage.publish(second, blob_id) is False
    assert list(blob_storage.iter_blobs()) == [listed]
    with blob_storage.open(blob_id) as data:
        assert data.read() == b"same bytes"


def test_blobs_are_listed_in_id_order_with_size_and_age(blob_storage: BlobStorage) -> None:
    before = time.time() - 5
    ids = []
    for n in range(30):
        path, blob_id = stage(blob_storage, b"blob %d" % n * (n + 1))
        blob_storage.publish(path, blob_id)
        ids.append((blob_id, len(b"blob %d" % n * (n + 1))))
    listed = list(blob_storage.iter_blobs())
    assert [(b.blob_id, b.size) for b in listed] == sorted(ids)
    assert all(before <= b.published <= time.time() + 5 for b in listed)


def test_delete_removes_a_blob_and_tolerates_a_missing_one(blob_storage: BlobStorage) -> None:
    path, blob_id = stage(blob_storage, b"short-lived")
    blob_storage.publish(path, blob_id)
    blob_storage.delete(blob_id)
    blob_storage.delete(blob_id)
    assert not blob_storage.exists(blob_id)
    assert list(blob_storage.iter_blobs()) == []
    with pytest.raises(FileNotFoundError):
        blob_storage.open(blob_id)
    assert blob_storage.publish(path, blob_id) is True  # (and it can come back)


def test_verify_finds_bytes_that_do_not_match_their_id(blob_storage: BlobStorage) -> None:
    path, _ = stage(blob_storage, b"these bytes")
    wrong = hashlib.sha1(b"other bytes").hexdigest()
    blob_storage.publish(path, wrong)
    assert not blob_storage.verify(wrong)
