"""FileBlobStorage: what makes a published blob durable."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from rokkafs import staging
from rokkafs.store.blobs import files as blobs
from rokkafs.store.blobs.files import FileBlobStorage


def _stage(storage: FileBlobStorage, data: bytes) -> tuple[Path, str]:
    handle, path = storage.new_staging_file()
    with handle:
        handle.write(data)
    return path, hashlib.sha1(data).hexdigest()


def test_new_blob_folders_are_fsynced_in_their_parents(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = FileBlobStorage(tmp_path)
    synced: list[Path] = []
    real = blobs._fsync
    monkeypatch.setattr(blobs, "_fsync", lambda path: (synced.append(path), real(path)))
    path, blob_id = _stage(storage, b"first")
    assert storage.publish(path, blob_id)
    root = tmp_path / "blobs"
    first, second = root / blob_id[:2], root / blob_id[:2] / blob_id[2:4]
    assert synced == [root, first, second]  # ab in blobs/, cd in ab/, the blob in cd/
    assert storage.path(blob_id).read_bytes() == b"first"

    synced.clear()  # a second blob in the same folders: only its own entry
    twin = blob_id[:4] + "0" * 36
    handle, staged = storage.new_staging_file()
    handle.close()
    assert storage.publish(staged, twin)
    assert synced == [second]


def test_fsync_soon_still_syncs_when_no_thread_can_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object) -> None:
        raise RuntimeError("cannot schedule new futures after interpreter shutdown")

    monkeypatch.setattr(staging._SYNCING, "submit", refuse)
    path = tmp_path / "f"
    path.write_bytes(b"data")
    synced = staging.fsync_soon(os.open(path, os.O_RDONLY))
    assert synced.done() and synced.result() is None  # done at once, on this thread
