"""Real FUSE mounts under a temp dir: ``rokkafs mount`` in a child process, a bounded wait for
the mount, a lazy unmount in ``finally``. Run with mfusepy (libfuse 3) and with fusepy
(libfuse 2)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support import rokkafs_mount

from rokkafs.store.index.postgres import PostgresIndex
from rokkafs.store.local import LocalStore
from rokkafs.store.opening import open_blobs


@dataclass
class Mounted:
    root: Path
    data: Path
    store: LocalStore
    options: tuple[str, ...] = ()  # (global options of the mount: --index for PostgreSQL)


@pytest.fixture(params=["mfusepy", "fusepy", "mfusepy-postgres", "mfusepy-postgres-s3"])
def mounted(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Mounted]:
    """A mount with each binding; ``-postgres``: the store's state in PostgreSQL; ``-s3``:
    its bytes in an S3 bucket too."""
    if not Path("/dev/fuse").exists() or not (
        shutil.which("fusermount") or shutil.which("fusermount3")
    ):
        pytest.skip("no /dev/fuse or fusermount on this machine")
    data, root = tmp_path / "data", tmp_path / "mnt"
    root.mkdir()
    binding, _, engine = request.param.partition("-")
    options: tuple[str, ...] = ()
    index, blobs = None, None
    if engine.startswith("postgres"):
        url = request.getfixturevalue("postgres").new_database()
        options, index = ("--index", url), PostgresIndex(url)
    if engine.endswith("-s3"):
        bucket = request.getfixturevalue("s3").new_url()
        options, blobs = (*options, "--blobs", bucket), open_blobs(bucket, data)
    store = LocalStore(data, index=index, blobs=blobs)
    store.create_organization("acme")
    store.create_organization("other")
    env = {**os.environ, "ROKKAFS_FUSE_BINDING": binding}
    try:
        with rokkafs_mount(["--data", str(data), *options], root, tmp_path / "mount.log", env):
            yield Mounted(root, data, store, options)
    finally:
        store.close()
