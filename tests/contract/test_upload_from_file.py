"""Store contract: uploading a staging file the caller hands over (:class:`HandedOver`, what the
file faces do)."""

from __future__ import annotations

import errno
import hashlib
import os
from concurrent.futures import Future
from pathlib import Path

import images
import pytest
from support import StoreFactory

from rokkafs.errors import PayloadTooLarge, UnsupportedMediaType
from rokkafs.staging import HandedOver, Staged
from rokkafs.store.base import Store
from rokkafs.store.config import StoreConfig
from rokkafs.store.local import LocalStore


def _staging_file(folder: Path, data: bytes, synced: Future[None] | None = None) -> Staged:
    path = folder / "upload.part"
    path.write_bytes(data)
    binary_hash = hashlib.sha1(data).hexdigest()
    return Staged(path, binary_hash, binary_hash, len(data), synced=synced)


def test_file_becomes_a_source_image(store: Store, tmp_path: Path) -> None:
    data = images.png()
    staged = _staging_file(tmp_path, data)
    with HandedOver(staged) as handed:
        image = store.create_source_image(
            "acme",
            handed,
            name="2024/cat.png",
            dynamic_metadata={"version": {"text": "b"}},
            mtime=1_700_000_000.0,
        )
    assert (image.binary_hash, image.name, image.format) == (
        staged.binary_hash,
        "2024/cat.png",
        "png",
    )
    assert image.dynamic_metadata == {"version": {"text": "b"}}
    assert image.mtime == 1_700_000_000.0
    with store.open_source_image("acme", image.hash) as handle:
        assert handle.read() == data
    assert store.check(deep=True).ok


def test_refused_file_stores_nothing(store: Store, tmp_path: Path) -> None:
    staged = _staging_file(tmp_path, b"<?xml version='1.0'?><html><svg/></html>")
    with pytest.raises(UnsupportedMediaType), HandedOver(staged) as handed:
        store.create_source_image("acme", handed, name="a.png")
    assert store.list_source_images("acme").total == 0
    report = store.check()
    assert report.ok and not report.notes


def test_file_over_the_limit_is_refused(make_store: StoreFactory, tmp_path: Path) -> None:
    store = make_store(StoreConfig(max_upload_bytes=1000))
    store.create_organization("acme")
    staged = _staging_file(tmp_path, images.png(size=(300, 300)) + bytes(2000))
    with pytest.raises(PayloadTooLarge), HandedOver(staged) as handed:
        store.create_source_image("acme", handed, name="a.png")
    assert store.list_source_images("acme").total == 0


def test_local_store_moves_the_file_instead_of_copying(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "data")
    store.create_organization("acme")
    staged = _staging_file(tmp_path, images.png())
    path, binary_hash = staged.path, staged.binary_hash
    inode = path.stat().st_ino
    with HandedOver(staged) as handed:
        image = store.create_source_image("acme", handed, name="a.png")
    assert not path.exists()
    blob = tmp_path / "data" / "blobs" / binary_hash[:2] / binary_hash
    assert blob.stat().st_ino == inode
    assert store.get_source_image("acme", image.hash).binary_hash == binary_hash


def test_local_store_copies_across_filesystems(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalStore(tmp_path / "data")
    store.create_organization("acme")
    data = images.png()
    staged = _staging_file(tmp_path, data)
    path, binary_hash = staged.path, staged.binary_hash

    real_replace = os.replace

    def cross_device(source: str | Path, target: str | Path) -> None:
        if Path(source) == path:  # only the caller's file sits on "another filesystem"
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", cross_device)
    with HandedOver(staged) as handed:
        image = store.create_source_image("acme", handed, name="a.png")
    monkeypatch.undo()
    assert path.read_bytes() == data  # left to the caller
    assert image.binary_hash == binary_hash
    assert not list((tmp_path / "data" / "tmp").iterdir())
    assert store.check(deep=True).ok


class _Flush(Future[None]):
    """A caller's fsync still running: records whether the blob was published before the
    store waited for it."""

    def __init__(self, blob: Path, error: OSError | None = None) -> None:
        super().__init__()
        self.blob, self.published_early = blob, None
        if error is None:
            self.set_result(None)
        else:
            self.set_exception(error)

    def result(self, timeout: float | None = None) -> None:
        self.published_early = self.blob.exists()
        return super().result(timeout)


def test_local_store_waits_for_the_callers_fsync_before_publishing(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "data")
    store.create_organization("acme")
    data = images.png()
    blob_id = hashlib.sha1(data).hexdigest()
    flush = _Flush(tmp_path / "data" / "blobs" / blob_id[:2] / blob_id)
    with HandedOver(_staging_file(tmp_path, data, flush)) as handed:
        store.create_source_image("acme", handed, name="a.png")
    assert flush.published_early is False  # waited for, before the rename into place
    assert flush.blob.exists() and store.check(deep=True).ok


def test_a_failed_fsync_stores_nothing(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "data")
    store.create_organization("acme")
    data = images.png()
    blob_id = hashlib.sha1(data).hexdigest()
    broken = OSError(errno.EIO, "Input/output error")
    flush = _Flush(tmp_path / "data" / "blobs" / blob_id[:2] / blob_id, broken)
    handed = HandedOver(_staging_file(tmp_path, data, flush))
    with pytest.raises(OSError, match="Input/output"), handed:
        store.create_source_image("acme", handed, name="a.png")
    assert not flush.blob.exists()
    assert store.list_source_images("acme").total == 0
    assert not list((tmp_path / "data" / "tmp").iterdir())
    assert store.check(deep=True).ok
