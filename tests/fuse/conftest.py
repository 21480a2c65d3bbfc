"""Real FUSE mounts under a temp dir: ``rokkafs mount`` in a child process, a bounded wait for
the mount, a lazy unmount in ``finally``. Run with mfusepy (libfuse 3) and with fusepy
(libfuse 2)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from rokkafs.store.index.postgres import PostgresIndex
from rokkafs.store.local import LocalStore
from rokkafs.store.opening import open_blobs


@dataclass
class Mounted:
    root: Path
    data: Path
    store: LocalStore
    options: tuple[str, ...] = ()  # (global options of the mount: --index for PostgreSQL)


def _unmount(path: Path) -> None:
    tool = shutil.which("fusermount3") or shutil.which("fusermount") or "fusermount"
    subprocess.run([tool, "-u", "-z", str(path)], capture_output=True)
    deadline = time.monotonic() + 10
    while os.path.ismount(path) and time.monotonic() < deadline:
        time.sleep(0.05)


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
    log = (tmp_path / "mount.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "rokkafs.cli", "--data", str(data), *options, "mount", str(root)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while not os.path.ismount(root):
            if process.poll() is not None:
                raise RuntimeError(f"mount exited: {(tmp_path / 'mount.log').read_text()}")
            if time.monotonic() > deadline:
                raise TimeoutError("the mount did not appear")
            time.sleep(0.05)
        yield Mounted(root, data, store, options)
    finally:
        _unmount(root)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        store.close()
