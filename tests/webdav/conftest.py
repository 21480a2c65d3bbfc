"""A real ``rokkafs`` cheroot server (REST + WebDAV) on a free port for the WebDAV tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from davsupport import KEY, DavServer, granian_dav_server, postgres_dav_server

from rokkafs.server import make_server, running_server
from rokkafs.store.config import StoreConfig
from rokkafs.store.local import LocalStore


@pytest.fixture
def dav_server(tmp_path: Path) -> Iterator[DavServer]:
    data = tmp_path / "data"
    store = LocalStore(data, StoreConfig(max_upload_bytes=5_000_000))
    store.create_organization("acme")
    store.create_organization("other")
    server = make_server(store, lambda: [KEY], port=0, threads=20, data_dir=data)
    with running_server(server) as url:
        yield DavServer(url, f"{url}/dav", KEY, store, data)
    store.close()


@pytest.fixture(params=["sqlite", "postgres", "granian"])
def any_dav_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DavServer]:
    """The server of ``dav_server``, one whose state is all in PostgreSQL (index, face
    state, WebDAV locks and properties), and ``rokkafs serve --http-server granian``, for the
    client suites that run on all."""
    if request.param == "sqlite":
        yield request.getfixturevalue("dav_server")
        return
    if request.param == "granian":
        with granian_dav_server(tmp_path) as server:
            yield server
        return
    with postgres_dav_server(request.getfixturevalue("postgres"), tmp_path) as server:
        yield server


@pytest.fixture(params=["sqlite", "postgres", "postgres-s3", "granian", "granian-postgres-s3"])
def every_dav_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DavServer]:
    """The servers of ``any_dav_server``, and with its bytes in an S3 bucket too, on cheroot
    and on granian (for litmus and rclone)."""
    if request.param == "sqlite":
        yield request.getfixturevalue("dav_server")
        return
    if request.param.startswith("granian"):
        shared = request.param.endswith("s3")
        index = request.getfixturevalue("postgres").new_database() if shared else None
        bucket = request.getfixturevalue("s3").new_url() if shared else None
        with granian_dav_server(tmp_path, index, bucket) as server:
            yield server
        return
    bucket = request.getfixturevalue("s3").new_url() if request.param.endswith("s3") else None
    with postgres_dav_server(request.getfixturevalue("postgres"), tmp_path, bucket) as server:
        yield server


@pytest.fixture
def dav(dav_server: DavServer) -> Iterator[httpx.Client]:
    with dav_server.client() as client:
        yield client


@pytest.fixture
def any_dav(any_dav_server: DavServer) -> Iterator[httpx.Client]:
    """A client of each server of ``any_dav_server``."""
    with any_dav_server.client() as client:
        yield client
