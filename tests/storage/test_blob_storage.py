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


def test_blob_folders_are_made_once_and_a_blob_costs_one_fsync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[Path] = []
    real = blobs._fsync
    monkeypatch.setattr(blobs, "_fsync", lambda path: (synced.append(path), real(path)))
    storage = FileBlobStorage(tmp_path)
    root = tmp_path / "blobs"
    assert sorted(p.name for p in root.iterdir()) == [f"{n:02x}" for n in range(256)]
    assert synced == [root, tmp_path]  # the folders' entries, and blobs/ in its parent
    synced.clear()
    path, blob_id = _stage(storage, b"first")
    assert storage.publish(path, blob_id)
    assert synced == [root / blob_id[:2]]  # only the blob's own entry
    assert storage.path(blob_id) == root / blob_id[:2] / blob_id
    assert storage.path(blob_id).read_bytes() == b"first"
    synced.clear()
    FileBlobStorage(tmp_path)  # opened again: nothing to make
    assert synced == []


def test_blobs_of_the_older_two_level_layout_are_found_and_not_published_again(
    tmp_path: Path,
) -> None:
    storage = FileBlobStorage(tmp_path)
    old_id = hashlib.sha1(b"old").hexdigest()
    legacy = tmp_path / "blobs" / old_id[:2] / old_id[2:4] / old_id
    legacy.parent.mkdir()
    legacy.write_bytes(b"old")
    path, new_id = _stage(storage, b"new")
    assert storage.publish(path, new_id)
    assert storage.exists(old_id) and storage.path(old_id) == legacy
    with storage.open(old_id) as handle:
        assert handle.read() == b"old"
    assert [b.blob_id for b in storage.iter_blobs()] == sorted([old_id, new_id])
    again, _ = _stage(storage, b"old")
    assert not storage.publish(again, old_id)  # (already there, in the older place)
    assert not (tmp_path / "blobs" / old_id[:2] / old_id).exists()
    copy = storage.stage_copy(old_id)
    assert copy.read_bytes() == b"old"
    both = tmp_path / "blobs" / old_id[:2] / old_id  # (a copy in both layouts: one blob)
    both.write_bytes(b"old")
    assert [b.blob_id for b in storage.iter_blobs()] == sorted([old_id, new_id])
    storage.delete(old_id)
    assert not storage.exists(old_id) and not legacy.exists() and not both.exists()


def test_a_twin_linking_first_into_a_folder_just_made_is_no_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = FileBlobStorage(tmp_path)
    path, blob_id = _stage(storage, b"twins")
    folder = tmp_path / "blobs" / blob_id[:2]
    folder.rmdir()  # (a store whose folders an older version made only as needed)
    real = storage._make_folders

    def twin_first() -> None:
        real()
        (folder / blob_id).write_bytes(b"twins")  # (the twin links it meanwhile)

    monkeypatch.setattr(storage, "_make_folders", twin_first)
    assert storage.publish(path, blob_id) is False
    assert storage.path(blob_id).read_bytes() == b"twins"


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
