"""Staging files are flushed to disk only where publishing makes them the blob: for a folder
of files, yes (and before the blob appears); for a bucket, no (the bucket's answer to the
PUT is what keeps the bytes, and the staging file is removed right after)."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import images
import pytest
from s3server import S3Server

from rokkafs.provider import Provider
from rokkafs.provider.facestate import FaceState
from rokkafs.store.blobs import BlobStorage
from rokkafs.store.blobs.files import FileBlobStorage
from rokkafs.store.blobs.s3 import S3BlobStorage
from rokkafs.store.local import LocalStore


@pytest.fixture
def staging_fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the staging files fsynced (every fsync still happens)."""
    synced: list[str] = []
    real = os.fsync

    def spying(fd: int) -> None:
        name = os.readlink(f"/proc/self/fd/{fd}")
        if os.path.basename(name).startswith("stage-"):
            synced.append(name)
        real(fd)

    monkeypatch.setattr(os, "fsync", spying)
    return synced


@pytest.fixture(params=["files", "s3"])
def storages(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[BlobStorage, BlobStorage]:
    """The images' and the side files' storage."""
    if request.param == "files":
        return FileBlobStorage(tmp_path / "data"), FileBlobStorage(tmp_path / "data" / "side")
    s3: S3Server = request.getfixturevalue("s3")
    return (
        S3BlobStorage(s3.new_url(), tmp_path / "data" / "tmp"),
        S3BlobStorage(s3.new_url(), tmp_path / "data" / "side" / "tmp", area="side"),
    )


@pytest.fixture
def paths(tmp_path: Path, storages: tuple[BlobStorage, BlobStorage]) -> Iterator[Provider]:
    store = LocalStore(tmp_path / "data", blobs=storages[0])
    store.create_organization("acme")
    faces = FaceState(tmp_path / "data", blobs=storages[1])
    yield Provider(store, faces)
    faces.close()
    store.close()


def test_a_file_faces_upload_is_flushed_only_for_a_folder_of_files(
    paths: Provider, storages: tuple[BlobStorage, BlobStorage], staging_fsyncs: list[str]
) -> None:
    for name, data in (("a.png", images.png(color=1)), (".DS_Store", b"finder's")):
        upload = paths.new_upload()
        upload.write(data)
        paths.commit(f"/acme/{name}", upload)
        with paths.open(f"/acme/{name}") as stored:
            assert stored.read() == data
    assert len(staging_fsyncs) == (2 if storages[0].syncs_staging else 0)


def test_a_rest_upload_is_flushed_only_for_a_folder_of_files(
    paths: Provider, storages: tuple[BlobStorage, BlobStorage], staging_fsyncs: list[str]
) -> None:
    data = images.png(color=2)
    image = paths.store.create_source_image("acme", io.BytesIO(data), name="b.png")
    with paths.store.open_source_image("acme", image.hash) as stored:
        assert stored.read() == data
    assert len(staging_fsyncs) == (1 if storages[0].syncs_staging else 0)
    assert isinstance(storages[0], FileBlobStorage) == storages[0].syncs_staging
