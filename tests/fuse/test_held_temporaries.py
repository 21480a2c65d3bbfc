"""rsync's temporary files (``.name.XXXXXX``) are held by the mount until their rename, which
commits them once at their real name; anything else stores them as ordinary side files."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import images
import pytest

from rokkafs.fusefs.binding import load
from rokkafs.fusefs.operations import build_operations
from rokkafs.fusefs.pending import is_temporary_name
from rokkafs.provider import Provider
from rokkafs.provider.facestate import FaceState
from rokkafs.store.local import LocalStore

fuse = load()
TEMP = "/acme/.cat.png.Ab3xZ9"


@pytest.fixture
def ops(tmp_path: Path) -> Iterator[Any]:
    store = LocalStore(tmp_path / "data")
    store.create_organization("acme")
    operations = build_operations(fuse, Provider(store, FaceState(tmp_path / "data")), tmp_path)
    yield operations
    operations.destroy("/")
    store.close()


def write_temporary(ops: Any, data: bytes, path: str = TEMP) -> None:
    fh = ops.create(path, 0o600, os.O_WRONLY | os.O_EXCL)
    ops.write(path, data, 0, fh)
    ops.flush(path, fh)
    ops.release(path, fh)


def side_files(ops: Any) -> list[str]:
    return [f.path for f in ops.paths.faces.files_below("acme", "")]


def staging_files(tmp_path: Path) -> list[Path]:
    return [p for p in (tmp_path / "data").glob("**/tmp/*") if p.is_file()]


def test_the_shape_of_temporary_names() -> None:
    assert is_temporary_name("/acme/2024/.cat.png.Ab3xZ9")
    assert not is_temporary_name("/acme/.cat.png")
    assert not is_temporary_name("/acme/.notes.txt.tmp")
    assert not is_temporary_name("/acme/cat.png.Ab3xZ9")


def test_rename_commits_the_held_file_once(ops: Any, tmp_path: Path) -> None:
    data = images.png()
    write_temporary(ops, data)
    attrs = ops.getattr(TEMP)
    assert stat.S_ISREG(attrs["st_mode"]) and attrs["st_size"] == len(data)
    assert ".cat.png.Ab3xZ9" in [e if isinstance(e, str) else e[0] for e in ops.readdir("/acme")]
    ops.utimens(TEMP, (0, 1_600_000_000 * 10**9))
    ops.chmod(TEMP, 0o644)
    assert side_files(ops) == []  # held, not stored
    ops.rename(TEMP, "/acme/cat.png")
    [image] = ops.paths.store.list_source_images("acme").items
    assert (image.name, image.mtime, image.size) == ("cat.png", 1_600_000_000, len(data))
    assert side_files(ops) == [] and staging_files(tmp_path) == []
    with pytest.raises(fuse.FuseOSError) as gone:
        ops.getattr(TEMP)
    assert gone.value.errno == errno.ENOENT


def test_a_held_file_not_renamed_becomes_a_side_file(ops: Any) -> None:
    write_temporary(ops, b"half of an rsync run")
    ops.pending.settle_due(older_than=0)  # what the background loop does after HOLD_SECONDS
    assert side_files(ops) == [".cat.png.Ab3xZ9"]
    fh = ops.open(TEMP, os.O_RDONLY)
    assert ops.read(TEMP, 100, 0, fh) == b"half of an rsync run"
    ops.release(TEMP, fh)


def test_opening_a_held_file_stores_it_first(ops: Any) -> None:
    write_temporary(ops, b"abc")
    fh = ops.open(TEMP, os.O_RDONLY)
    assert ops.read(TEMP, 10, 0, fh) == b"abc"
    ops.release(TEMP, fh)
    assert side_files(ops) == [".cat.png.Ab3xZ9"]


def test_the_end_of_the_mount_stores_held_files(ops: Any) -> None:
    write_temporary(ops, b"abc")
    ops.destroy("/")
    assert side_files(ops) == [".cat.png.Ab3xZ9"]


def test_deleting_a_held_file_leaves_nothing(ops: Any, tmp_path: Path) -> None:
    write_temporary(ops, images.png())
    ops.unlink(TEMP)
    assert side_files(ops) == [] and staging_files(tmp_path) == []
    assert ops.paths.store.list_source_images("acme").total == 0


def test_a_refused_rename_leaves_nothing(ops: Any, tmp_path: Path) -> None:
    write_temporary(ops, b"<?xml version='1.0'?><html><svg/></html>")  # refused type
    with pytest.raises(fuse.FuseOSError):
        ops.rename(TEMP, "/acme/cat.png")
    assert ops.paths.store.list_source_images("acme").total == 0
    assert side_files(ops) == [] and staging_files(tmp_path) == []


def test_renaming_over_a_held_file_replaces_it(ops: Any) -> None:
    write_temporary(ops, b"old")
    write_temporary(ops, b"new", "/acme/.other.txt.Qw3rt6")
    ops.rename("/acme/.other.txt.Qw3rt6", TEMP)
    ops.pending.settle_due(older_than=0)
    fh = ops.open(TEMP, os.O_RDONLY)
    assert ops.read(TEMP, 10, 0, fh) == b"new"
    ops.release(TEMP, fh)
