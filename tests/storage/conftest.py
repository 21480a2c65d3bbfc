"""Factories for the storage contract suites: every metadata index and every blob storage
runs the same tests (the pattern of shared test cases over a factory)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from blobsupport import IndexFactory

from rokkafs.store.blobs import BlobStorage
from rokkafs.store.blobs.cached import CachedBlobStorage
from rokkafs.store.blobs.files import FileBlobStorage
from rokkafs.store.blobs.s3 import S3BlobStorage
from rokkafs.store.index import MetadataIndex
from rokkafs.store.index.postgres import PostgresIndex
from rokkafs.store.index.sqlite import SqliteIndex


@pytest.fixture(params=["sqlite", "postgres"])
def engine_url(request: pytest.FixtureRequest) -> str | None:
    """Each engine state can live in: None for the data directory's SQLite files, else the
    URL of a fresh PostgreSQL database."""
    return request.getfixturevalue("postgres").new_database() if request.param != "sqlite" else None


@pytest.fixture
def closing() -> Iterator[ExitStack]:
    """What a test opened, closed at its end."""
    with ExitStack() as stack:
        yield stack


@pytest.fixture
def make_index(engine_url: str | None, tmp_path: Path, closing: ExitStack) -> IndexFactory:
    """Open the same (at first empty) index as often as asked: several openings of one index
    stand for several processes or nodes."""

    def factory() -> MetadataIndex:
        index: MetadataIndex
        if engine_url is None:
            index = SqliteIndex(tmp_path / "index.sqlite3")
        else:
            index = PostgresIndex(engine_url, max_connections=4)
        closing.callback(index.close)
        return index

    return factory


@pytest.fixture
def index(make_index: IndexFactory) -> MetadataIndex:
    return make_index()


@pytest.fixture(params=["files", "s3", "s3-cached"])
def blob_storage(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStorage:
    """Every blob storage implementation, empty (``-cached``: behind a mount's read cache)."""
    if request.param.startswith("s3"):
        bucket = S3BlobStorage(request.getfixturevalue("s3").new_url(), tmp_path / "staging")
        if request.param.endswith("cached"):
            return CachedBlobStorage(bucket, tmp_path / "read-cache", 10 * 1024 * 1024)
        return bucket
    return FileBlobStorage(tmp_path / "blobs-root")
